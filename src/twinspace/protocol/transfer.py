"""The DSP 2025-1 transfer process state machine (Transfer Process Protocol, "State Machine")."""

from __future__ import annotations

from enum import StrEnum

from twinspace.protocol.machine import START, Role, StateMachine


class TP(StrEnum):
    REQUESTED = "REQUESTED"
    STARTED = "STARTED"
    SUSPENDED = "SUSPENDED"
    COMPLETED = "COMPLETED"
    TERMINATED = "TERMINATED"


class TPMessage(StrEnum):
    REQUEST = "TransferRequestMessage"
    START = "TransferStartMessage"
    SUSPENSION = "TransferSuspensionMessage"
    COMPLETION = "TransferCompletionMessage"
    TERMINATION = "TransferTerminationMessage"


C, P = Role.CONSUMER, Role.PROVIDER

_TABLE: dict[tuple[Role, str, str], str] = {
    (C, START, TPMessage.REQUEST): TP.REQUESTED,
    # REQUESTED
    (P, TP.REQUESTED, TPMessage.START): TP.STARTED,
    (C, TP.REQUESTED, TPMessage.TERMINATION): TP.TERMINATED,
    (P, TP.REQUESTED, TPMessage.TERMINATION): TP.TERMINATED,
}
for _who in (C, P):
    _TABLE.update(
        {
            (_who, TP.STARTED, TPMessage.COMPLETION): TP.COMPLETED,
            (_who, TP.STARTED, TPMessage.SUSPENSION): TP.SUSPENDED,
            (_who, TP.STARTED, TPMessage.TERMINATION): TP.TERMINATED,
            (_who, TP.SUSPENDED, TPMessage.START): TP.STARTED,
            (_who, TP.SUSPENDED, TPMessage.TERMINATION): TP.TERMINATED,
        }
    )

TRANSFER = StateMachine(
    name="transfer process",
    states=tuple(s.value for s in TP),
    terminal=frozenset({TP.COMPLETED, TP.TERMINATED}),
    kinds=tuple(k.value for k in TPMessage),
    table=_TABLE,
)
