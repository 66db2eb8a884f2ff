"""The Dataspace Protocol 2025-1, sans-I/O: message builders, schema validation, state machines."""

from twinspace.protocol.machine import START, IllegalTransition, Refused, Role, StateMachine
from twinspace.protocol.negotiation import CN, NEGOTIATION, CNMessage, negotiation_kind
from twinspace.protocol.schemas import (
    DSPACE_CONTEXT,
    SPEC_VERSION,
    SchemaViolation,
    validate,
)
from twinspace.protocol.transfer import TP, TRANSFER, TPMessage

__all__ = [
    "CN",
    "DSPACE_CONTEXT",
    "NEGOTIATION",
    "SPEC_VERSION",
    "START",
    "TP",
    "TRANSFER",
    "CNMessage",
    "IllegalTransition",
    "Refused",
    "Role",
    "SchemaViolation",
    "StateMachine",
    "TPMessage",
    "negotiation_kind",
    "validate",
]
