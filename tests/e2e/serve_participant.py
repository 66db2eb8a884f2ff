"""Serve one participant's connector: settings from ``TWINSPACE_*``, then ``uvicorn.run``.

Used by ``tests/e2e/procs.py`` and the benchmarks to run a connector as a real OS process
(``python -m uvicorn`` cannot hand ``Settings`` to ``create_app``). ``TWINSPACE_LOG_LEVEL``
sets uvicorn's log level (default ``warning``).
"""

from __future__ import annotations

import logging
import os

import uvicorn

from twinspace.app import create_app
from twinspace.settings import Settings


def main() -> None:
    settings = Settings()
    level = os.environ.get("TWINSPACE_LOG_LEVEL", "warning")
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=level,
        access_log=False,
    )


if __name__ == "__main__":
    main()
