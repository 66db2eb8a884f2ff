"""Serve one participant's connector: settings from ``TWINSPACE_*``, then ``uvicorn.run``.

Used by ``tests/e2e/procs.py`` and the benchmarks to run a connector as a real OS process
(``python -m uvicorn`` cannot hand ``Settings`` to ``create_app``). ``TWINSPACE_LOG_LEVEL``
sets uvicorn's log level (default ``warning``); ``TWINSPACE_SERVE=authority`` serves a governance
authority instead of a connector.
"""

from __future__ import annotations

import logging
import os

import uvicorn

from twinspace.app import create_app
from twinspace.runtime import tune_gc
from twinspace.settings import Settings


def main() -> None:
    settings = Settings()
    level = os.environ.get("TWINSPACE_LOG_LEVEL", "warning")
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    if os.environ.get("TWINSPACE_SERVE") == "authority":
        from twinspace.authority import create_authority_app

        app = create_authority_app(settings)
    else:
        app = create_app(settings)
    tune_gc(settings.gc_threshold)  # as `twinspace serve` does
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=level,
        access_log=False,
    )


if __name__ == "__main__":
    main()
