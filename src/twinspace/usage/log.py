"""The usage log: every decision at a transfer or a data access, and every duty carried out.

Entries hold identifiers and decision reasons, never the data itself (the transparency-log
issue anchors them later).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from twinspace.policy import Decision
from twinspace.store import Transfer, Tx, UsageEntry

if TYPE_CHECKING:  # the connector imports this module
    from twinspace.connector.context import Ledger


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


def failed_operand(decision: Decision) -> str:
    """The left operand that refused (an identifier for the transparency log), or ``policy``."""
    for reason in decision.reasons:
        if reason.satisfied is False and reason.left_operand:
            return str(reason.left_operand).rsplit("/", 1)[-1].replace(":", "-")
    return "policy"


def log_denial(
    ledger: Ledger | None, tx: Tx, t: Transfer, decision: Decision, now: datetime
) -> None:
    """Put a refused use into the transparency log (identifiers only: who, what, which term)."""
    if ledger is None or decision.allowed:
        return
    fields: dict[str, object] = {
        "agreement": t.agreement_id,
        "requester": t.counter_party_id or "unknown",
        "transfer": t.id,
        "reason": failed_operand(decision),
    }
    if t.asset_id:
        fields["asset"] = t.asset_id
    ledger.record(tx, "usage_denied", t.agreement_id, fields, now)
