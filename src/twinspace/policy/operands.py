"""The left-operand registry: what each operand means, its value type, and when it is checked.

The connector gathers the facts (``Request.facts``, keyed by the short name) and decides which
exist at which moment; the engine only evaluates what it is given. ``moments`` says when a
constraint on the operand is *due*: at a moment where it is not due and no fact was given, the
constraint is deferred (it neither grants nor blocks now, and is checked at its own moment).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .vocabulary import ODRL_NS, TWINSPACE_NS, short_name

Moment = Literal["catalog", "negotiation", "transfer", "access"]
MOMENTS: tuple[Moment, ...] = ("catalog", "negotiation", "transfer", "access")

ValueType = Literal[
    "dateTime", "duration", "count", "number", "string", "party", "set", "geometry", "level"
]

#: Ordered security levels of ``twinspace:securityLevel``, lowest first.
SECURITY_LEVELS: tuple[str, ...] = ("base", "trust", "trust+")

ORDERED = frozenset({"lt", "lteq", "gt", "gteq"})
#: Operators that are meaningful for each value type.
OPERATORS_FOR: Mapping[ValueType, frozenset[str]] = {
    "dateTime": frozenset({"eq", "neq"}) | ORDERED,
    "duration": frozenset({"eq", "neq"}) | ORDERED,
    "count": frozenset({"eq", "neq", "isAnyOf", "isNoneOf"}) | ORDERED,
    "number": frozenset({"eq", "neq", "isAnyOf", "isNoneOf"}) | ORDERED,
    "level": frozenset({"eq", "neq", "isAnyOf", "isNoneOf"}) | ORDERED,
    "string": frozenset(
        {"eq", "neq", "isA", "isAnyOf", "isNoneOf", "isPartOf", "isAllOf", "hasPart"}
    ),
    "party": frozenset({"eq", "neq", "isA", "isAnyOf", "isNoneOf", "isPartOf"}),
    "set": frozenset({"eq", "neq", "isA", "isAnyOf", "isNoneOf", "isPartOf", "isAllOf", "hasPart"}),
    "geometry": frozenset({"eq", "neq", "isA", "isPartOf", "hasPart", "isAnyOf", "isNoneOf"}),
}


@dataclass(frozen=True)
class OperandSpec:
    """One left operand: short name, IRI, the moments it is due, its value type."""

    name: str
    iri: str
    moments: frozenset[Moment]
    value_type: ValueType
    description: str


_ALL: frozenset[Moment] = frozenset(MOMENTS)
_AFTER_OFFER: frozenset[Moment] = frozenset({"negotiation", "transfer", "access"})
_USE: frozenset[Moment] = frozenset({"transfer", "access"})
_ACCESS: frozenset[Moment] = frozenset({"access"})


def _spec(
    name: str, ns: str, moments: frozenset[Moment], value_type: ValueType, description: str
) -> OperandSpec:
    return OperandSpec(name, ns + name, moments, value_type, description)


_SPECS = (
    _spec(
        "dateTime", ODRL_NS, _ALL, "dateTime",
        "the current date and time (fact: aware datetime; xsd:date/xsd:dateTime right operand)",
    ),
    _spec(
        "elapsedTime", ODRL_NS, _USE, "duration",
        "time since the agreement was made (fact: timedelta; right operand xsd:duration, e.g. PT1H)",
    ),
    _spec(
        "count", ODRL_NS, _ACCESS, "count",
        "uses so far under the agreement, before this one (fact: int); `count lteq 10` = at most 10 uses",
    ),
    _spec(
        "purpose", ODRL_NS, _ACCESS, "string",
        "the purpose declared with the transfer request or the data access (string or IRI)",
    ),
    _spec(
        "recipient", ODRL_NS, _ALL, "party",
        "the party receiving the data: the caller's DID",
    ),
    _spec(
        "spatial", ODRL_NS, _ACCESS, "geometry",
        "where the data is used: GeoJSON geometry or [lon, lat] (right operand: GeoJSON geometry)",
    ),
    _spec(
        "event", ODRL_NS, _ALL, "set",
        "the events that have occurred (set of names, e.g. agreementSuspended)",
    ),
    _spec(
        "payAmount", ODRL_NS, _AFTER_OFFER, "number",
        "an amount paid (decimal, or {value, unit}; right operand with `unit`)",
    ),
    _spec(
        "resolution", ODRL_NS, _USE, "number",
        "the resolution of the rendition (decimal; right operand with `unit`)",
    ),
    _spec(
        "industry", ODRL_NS, _ALL, "string",
        "the caller's industry sector (string or IRI)",
    ),
    _spec(
        "membership", TWINSPACE_NS, _ALL, "string",
        '"active" when the caller holds a valid membership credential',
    ),
    _spec(
        "role", TWINSPACE_NS, _ALL, "set",
        "the caller's roles from verified credentials (set of strings)",
    ),
    _spec(
        "country", TWINSPACE_NS, _ALL, "string",
        "the caller's country (ISO 3166-1 alpha-2) from its verified credential",
    ),
    _spec(
        "legalName", TWINSPACE_NS, _ALL, "string",
        "the caller's legal name from its verified credential",
    ),
    _spec(
        "credentialType", TWINSPACE_NS, _ALL, "set",
        "the types of the verified credentials the caller holds (set of strings)",
    ),
    _spec(
        "deploymentLocation", TWINSPACE_NS, _ACCESS, "string",
        "the node or zone id a model or data is used on",
    ),
    _spec(
        "securityLevel", TWINSPACE_NS, _ALL, "level",
        "the caller's security level: base < trust < trust+",
    ),
    _spec(
        "state", TWINSPACE_NS, _ALL, "set",
        "the named states the consumer's system is in (e.g. agreementActive; a string or a set)",
    ),
)  # fmt: skip

#: The supported left operands by short name.
LEFT_OPERANDS: Mapping[str, OperandSpec] = {spec.name: spec for spec in _SPECS}


def operand_spec(
    term: str, registry: Mapping[str, OperandSpec] = LEFT_OPERANDS
) -> OperandSpec | None:
    """The spec of a left operand in any spelling (short, prefixed, IRI), or None."""
    spec = registry.get(short_name(term))
    if spec is not None:
        return spec
    for candidate in registry.values():
        if term == candidate.iri:
            return candidate
    return None
