"""``tune_gc``: the serving process's garbage-collector settings."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from twinspace.runtime import DEFAULT_GC_THRESHOLD, tune_gc
from twinspace.settings import Settings


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)
    gc.unfreeze()


def test_raises_the_young_threshold_and_freezes_what_lives() -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    young, older, oldest = tune_gc(12_345)
    assert (young, older, oldest) == gc.get_threshold()
    assert young == 12_345 and older >= 20 and oldest >= 100
    assert gc.get_freeze_count() > 0


def test_zero_leaves_python_alone() -> None:
    gc.unfreeze()
    before = gc.get_threshold()
    assert tune_gc(0) == before
    assert gc.get_freeze_count() == 0


def test_cycles_are_still_collected() -> None:
    tune_gc(100)

    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    ref = id(a)
    del a, b
    gc.collect()
    assert all(id(o) != ref for o in gc.get_objects() if isinstance(o, Node))


def test_negative_is_refused() -> None:
    with pytest.raises(ValueError, match="0"):
        tune_gc(-1)


def test_the_setting_defaults_to_the_tuned_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().gc_threshold == DEFAULT_GC_THRESHOLD
    monkeypatch.setenv("TWINSPACE_GC_THRESHOLD", "0")
    assert Settings().gc_threshold == 0
