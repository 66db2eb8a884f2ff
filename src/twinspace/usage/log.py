"""The usage log: every decision at a transfer or a data access, and every duty carried out.

Entries hold identifiers and decision reasons, never the data itself (the transparency-log
issue anchors them later).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from twinspace.policy import Decision
from twinspace.store import Transfer, Tx, UsageEntry


def log_decision(
    tx: Tx, t: Transfer, event: str, decision: Decision, now: datetime, **detail: Any
) -> None:
    """Record a usage decision about transfer ``t`` (``event``: transfer, access, monitor)."""
    tx.usage_log.add(
        UsageEntry(
            id=str(uuid.uuid4()),
            at=now,
            agreement_id=t.agreement_id,
            transfer_id=t.id,
            event=event,
            allowed=decision.allowed,
            detail={**detail, "decision": decision.explain()},
        )
    )


def log_event(
    tx: Tx,
    agreement_id: str,
    event: str,
    now: datetime,
    *,
    transfer_id: str | None = None,
    **detail: Any,
) -> None:
    """Record something done under an agreement (a duty carried out, a use recorded)."""
    tx.usage_log.add(
        UsageEntry(
            id=str(uuid.uuid4()),
            at=now,
            agreement_id=agreement_id,
            transfer_id=transfer_id,
            event=event,
            allowed=None,
            detail=detail,
        )
    )
