"""TCK mode: what the Eclipse DSP TCK needs to run against this connector (docs/tck.md).

With ``TWINSPACE_TCK_MODE=true``, ``create_app`` calls ``install``: the fixtures the TCK's cases
name are seeded (``seed.py``), and the provider's and consumer's next actions for those fixtures
follow the scripts of the TCK's cases (``scripts.py``, ``strategy.py``) through the
``Context.script`` hook. ``twinspace.api.tck`` serves the trigger endpoints the TCK calls to make
this connector start negotiations and transfers as consumer. Development and testing only: the
triggers are unauthenticated.
"""

from __future__ import annotations

import logging

from twinspace.connector.service import Connector
from twinspace.tck.seed import Seeded, seed
from twinspace.tck.strategy import STEP_DELAY, Strategy

log = logging.getLogger("twinspace.tck")

__all__ = ["Strategy", "install"]


def install(connector: Connector, *, step_delay: float = STEP_DELAY) -> Seeded:
    """Seed the TCK fixtures (idempotent) and make scripted processes follow their scripts."""
    ctx = connector.ctx
    seeded = seed(connector.store, ctx.settings.participant_id, ctx.clock.now())
    ctx.script = Strategy(connector.negotiations, connector.transfers, step_delay=step_delay)
    log.warning(
        "TCK mode is on: %d TCK fixtures seeded, scripted behaviour for TCK datasets and "
        "agreements, unauthenticated trigger endpoints under /tck (never use in production)",
        seeded.total,
    )
    return seeded
