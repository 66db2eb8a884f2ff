"""What each ODRL operator means for each value type.

``holds(value_type, operator, fact, right)`` compares an already-coerced fact with an already-parsed
right operand. Set-valued right operands (``isAnyOf``, ``isNoneOf``, ``isAllOf``, ``isPartOf``,
``hasPart``) are frozensets (tuples of geometries for ``spatial``). ``count`` compares the ordinal of
the requested use (uses so far + 1).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from shapely.geometry.base import BaseGeometry  # type: ignore[import-untyped,unused-ignore]

from .operands import SECURITY_LEVELS, ValueType

OPERATORS: frozenset[str] = frozenset(
    {"eq", "neq", "lt", "lteq", "gt", "gteq", "isA", "hasPart", "isPartOf", "isAllOf", "isAnyOf",
     "isNoneOf"}
)  # fmt: skip
#: Operators whose right operand is a collection.
SET_OPERATORS = frozenset({"isAnyOf", "isNoneOf", "isAllOf"})

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: bool(a == b),
    "neq": lambda a, b: bool(a != b),
    "lt": lambda a, b: bool(a < b),
    "lteq": lambda a, b: bool(a <= b),
    "gt": lambda a, b: bool(a > b),
    "gteq": lambda a, b: bool(a >= b),
}
_RANK = {level: i for i, level in enumerate(SECURITY_LEVELS)}


def holds(value_type: ValueType, operator: str, fact: Any, right: Any) -> bool:
    """Whether ``fact operator right`` holds (fact and right already typed)."""
    if value_type == "count":
        return _scalar(operator, fact + 1, right)
    if value_type == "level":
        if operator in SET_OPERATORS:
            return _scalar(operator, fact, right)
        return _ORDER[operator](_RANK[fact], _RANK[right])
    if value_type == "number":
        return _number(operator, fact, right)
    if value_type == "set":
        return _set(operator, fact, right)
    if value_type == "geometry":
        return _geometry(operator, fact, right)
    if value_type in ("string", "party"):
        return _string(operator, fact, right)
    return _scalar(operator, fact, right)


def _scalar(operator: str, fact: Any, right: Any) -> bool:
    if operator == "isAnyOf":
        return bool(fact in right)
    if operator == "isNoneOf":
        return bool(fact not in right)
    return _ORDER[operator](fact, right)


def _number(operator: str, fact: Any, right: Any) -> bool:
    amount: Decimal = fact[0] if isinstance(fact, tuple) else fact
    return _scalar(operator, amount, right)


def _string(operator: str, fact: str, right: Any) -> bool:
    if operator in ("eq", "isA"):
        return bool(fact == right)
    if operator == "neq":
        return bool(fact != right)
    if operator in ("isAnyOf", "isPartOf"):
        return bool(fact in right)
    if operator == "isNoneOf":
        return bool(fact not in right)
    # isAllOf / hasPart: every right value is the (single) fact
    return bool(right) and all(value == fact for value in right)


def _set(operator: str, fact: frozenset[str], right: Any) -> bool:
    if operator == "eq":
        return bool(fact == right)
    if operator == "neq":
        return bool(fact != right)
    if operator == "isA":
        return bool(fact & right)
    if operator == "isAnyOf":
        return bool(fact & right)
    if operator == "isNoneOf":
        return not (fact & right)
    if operator in ("isAllOf", "hasPart"):
        return bool(right <= fact)
    # isPartOf: every fact value is among the right values
    return bool(fact <= right)


def _geometry(operator: str, fact: BaseGeometry, right: Any) -> bool:
    if operator == "eq":
        return bool(fact.equals(right))
    if operator == "neq":
        return not fact.equals(right)
    if operator in ("isPartOf", "isA"):
        return bool(right.covers(fact))
    if operator == "hasPart":
        return bool(fact.covers(right))
    if operator == "isAnyOf":
        return any(area.covers(fact) for area in right)
    return not any(area.covers(fact) for area in right)  # isNoneOf
