"""Process-wide tuning of a serving process (not of an app: tests build many apps in one process).

CPython's cyclic garbage collector runs a young-generation pass every 700 container allocations
(3.11) and, every hundred of those, a full pass over every live object. One NGSI-LD batch of 1,000
entities allocates a few hundred thousand dicts and lists, nearly all freed by reference counting
alone, yet triggers hundreds of passes and several full ones that walk the whole heap (FastAPI,
pydantic, SQLAlchemy: a few hundred thousand objects). ``tune_gc`` moves what exists once the
app is built into the permanent generation (``gc.freeze``: it is never walked again) and raises
the young-generation threshold, so collections are rarer and cheaper; cycles are still collected.
"""

from __future__ import annotations

import gc

DEFAULT_GC_THRESHOLD = 50_000


def tune_gc(threshold: int = DEFAULT_GC_THRESHOLD) -> tuple[int, int, int]:
    """Freeze the objects alive now and set the young-generation threshold to ``threshold``
    (0: leave Python's thresholds alone). Returns the thresholds in force afterwards."""
    if threshold < 0:
        raise ValueError("the GC threshold must be 0 (Python's default) or positive")
    if threshold:
        gc.collect()  # what is garbage already should not be frozen
        gc.freeze()
        _young, older, oldest = gc.get_threshold()
        gc.set_threshold(threshold, max(older, 20), max(oldest, 100))
    young, older, oldest = gc.get_threshold()
    return young, older, oldest
