"""What negotiations and transfers share: inbound transitions, dedupe, and queueing replies.

Rules (DSP: "a process transitions in response to an acknowledged message"):
- an inbound message moves our copy of the process when we acknowledge it (we answer 2xx in the
  same transaction that saves the new state);
- an outbound message moves it when the counter-party acknowledges it (see ``manager``);
- a counter-party's message that is only legal after our in-flight message is an implicit
  acknowledgement of that message (it cannot have been sent otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from twinspace.connector.errors import ProtocolError
from twinspace.connector.ids import digest, new_pid
from twinspace.protocol.machine import START, Role, StateMachine
from twinspace.protocol.schemas import validate
from twinspace.store import Conflict, OutboxItem, Tx

#: Local state of a process we created but the counter-party has not acknowledged yet.
INITIAL = "INITIAL"


class Process(Protocol):
    id: str
    role: str
    state: str
    provider_pid: str | None
    consumer_pid: str | None
    error_detail: str | None
    counter_party_id: str | None
    updated_at: datetime
    version: int


def machine_state(process: Process) -> str:
    return START if process.state == INITIAL else process.state


@dataclass
class Reply:
    """A DSP response: status code and JSON body."""

    status: int
    body: dict[str, Any]


def queue(
    tx: Tx,
    *,
    kind: str,
    process: Process,
    message_type: str,
    url: str,
    payload: dict[str, Any],
    now: datetime,
    delay: float = 0.0,
) -> OutboxItem:
    """Queue an outbound message in the caller's transaction.

    DSP messages are checked against their official schema here, so that nothing we send can be
    invalid (a violation is a bug on our side and aborts the transaction).
    """
    if kind in ("negotiation", "transfer"):
        validate(payload)
    item = OutboxItem(
        id=new_pid(),
        process_kind=kind,
        process_id=process.id,
        message_type=message_type,
        url=url,
        payload=payload,
        audience=process.counter_party_id,
        next_attempt_at=now + timedelta(seconds=delay),
        created_at=now,
    )
    tx.outbox.enqueue(item)
    return item


def join_url(base: str, path: str) -> str:
    """DSP: handle a callback/base address with or without a trailing slash."""
    return base.rstrip("/") + "/" + path.lstrip("/")


def inbound_transition(
    tx: Tx,
    machine: StateMachine,
    process: Process,
    kind: str,
    *,
    area: str,
    now: datetime,
    effects: Any,
) -> str:
    """Check and apply an inbound message's transition; returns the new state.

    If the message is illegal now but legal once our pending outbound message is counted as
    delivered, that message is acknowledged implicitly first (its effects run once).
    """
    sender = Role(process.role).other
    state = machine_state(process)
    if machine.allows(sender, state, kind):
        return machine.next_state(sender, state, kind)
    for item in tx.outbox.pending_for(process.id):
        if item.attempts == 0 or item.process_kind != area:
            continue
        ours = Role(process.role)
        if not machine.allows(ours, state, item.message_type):
            continue
        after = machine.next_state(ours, state, item.message_type)
        if machine.allows(sender, after, kind):
            if tx.outbox.mark_delivered(item.id, now):
                effects(tx, process, item, None, now)
            process.state = after
            return machine.next_state(sender, after, kind)
    if _changed_since_read(tx, area, process):
        # our own acknowledgement committed between reading the process and its outbox (reads
        # are not snapshot-isolated): judge the message again on fresh rows, not on stale ones
        raise Conflict(f"{area} {process.id!r} changed while an inbound {kind} was checked")
    raise ProtocolError(
        area,
        400,
        "INVALID_STATE",
        f"{sender.value.lower()} may not send {kind} while the process is {process.state}",
        provider_pid=process.provider_pid,
        consumer_pid=process.consumer_pid,
    )


def _changed_since_read(tx: Tx, area: str, process: Process) -> bool:
    rows = tx.negotiations if area == "negotiation" else tx.transfers
    current = rows.find(process.id)
    return current is not None and current.version != process.version


def duplicate_of_last(tx: Tx, process_id: str, body: dict[str, Any]) -> Reply | None:
    """The reply already given if ``body`` repeats the last message accepted for the process."""
    seen = tx.inbox.seen(f"last:{process_id}")
    if seen is None:
        return None
    status, stored = seen
    if stored.get("hash") != digest(body):
        return None
    return Reply(status, stored["body"])


def remember_last(
    tx: Tx, process_id: str, body: dict[str, Any], reply: Reply, now: datetime
) -> None:
    tx.inbox.put(
        f"last:{process_id}", reply.status, {"hash": digest(body), "body": reply.body}, now
    )
