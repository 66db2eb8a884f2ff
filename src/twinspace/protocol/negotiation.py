"""The DSP 2025-1 contract negotiation state machine (Contract Negotiation Protocol, "State Machine")."""

from __future__ import annotations

from enum import StrEnum

from twinspace.protocol.machine import START, Role, StateMachine


class CN(StrEnum):
    REQUESTED = "REQUESTED"
    OFFERED = "OFFERED"
    ACCEPTED = "ACCEPTED"
    AGREED = "AGREED"
    VERIFIED = "VERIFIED"
    FINALIZED = "FINALIZED"
    TERMINATED = "TERMINATED"


class CNMessage(StrEnum):
    """Message kinds that move a negotiation; events are split by their eventType."""

    REQUEST = "ContractRequestMessage"
    OFFER = "ContractOfferMessage"
    AGREEMENT = "ContractAgreementMessage"
    VERIFICATION = "ContractAgreementVerificationMessage"
    ACCEPTED = "ContractNegotiationEventMessage:ACCEPTED"
    FINALIZED = "ContractNegotiationEventMessage:FINALIZED"
    TERMINATION = "ContractNegotiationTerminationMessage"


C, P = Role.CONSUMER, Role.PROVIDER

_TABLE: dict[tuple[Role, str, str], str] = {
    # a consumer opens with a request, a provider with an offer
    (C, START, CNMessage.REQUEST): CN.REQUESTED,
    (P, START, CNMessage.OFFER): CN.OFFERED,
    # REQUESTED
    (P, CN.REQUESTED, CNMessage.OFFER): CN.OFFERED,
    (P, CN.REQUESTED, CNMessage.AGREEMENT): CN.AGREED,
    (C, CN.REQUESTED, CNMessage.TERMINATION): CN.TERMINATED,
    (P, CN.REQUESTED, CNMessage.TERMINATION): CN.TERMINATED,
    # OFFERED
    (C, CN.OFFERED, CNMessage.REQUEST): CN.REQUESTED,
    (C, CN.OFFERED, CNMessage.ACCEPTED): CN.ACCEPTED,
    (C, CN.OFFERED, CNMessage.TERMINATION): CN.TERMINATED,
    (P, CN.OFFERED, CNMessage.TERMINATION): CN.TERMINATED,
    # ACCEPTED
    (P, CN.ACCEPTED, CNMessage.AGREEMENT): CN.AGREED,
    (P, CN.ACCEPTED, CNMessage.TERMINATION): CN.TERMINATED,
    # AGREED
    (C, CN.AGREED, CNMessage.VERIFICATION): CN.VERIFIED,
    (C, CN.AGREED, CNMessage.TERMINATION): CN.TERMINATED,
    # VERIFIED
    (P, CN.VERIFIED, CNMessage.FINALIZED): CN.FINALIZED,
    (P, CN.VERIFIED, CNMessage.TERMINATION): CN.TERMINATED,
}

NEGOTIATION = StateMachine(
    name="contract negotiation",
    states=tuple(s.value for s in CN),
    terminal=frozenset({CN.FINALIZED, CN.TERMINATED}),
    kinds=tuple(k.value for k in CNMessage),
    table=_TABLE,
)


def negotiation_kind(message: dict[str, object]) -> str:
    """The transition kind of a negotiation message (events carry their eventType)."""
    kind = str(message.get("@type", ""))
    if kind == "ContractNegotiationEventMessage":
        return f"{kind}:{message.get('eventType', '')}"
    return kind
