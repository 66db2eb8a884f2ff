"""Every operator against every value type it is meaningful for: one row per case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from .helpers import NOW, ask, c, decide_both, offer

SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]}
SMALL = {"type": "Polygon", "coordinates": [[[1, 1], [2, 1], [2, 2], [1, 2], [1, 1]]]}
FAR = {"type": "Polygon", "coordinates": [[[50, 50], [51, 50], [51, 51], [50, 51], [50, 50]]]}

# (left operand, operator, right operand, fact, allowed)
CASES: list[tuple[str, str, Any, Any, bool]] = [
    # dateTime: xsd:dateTime, xsd:date, aware/naive facts, ISO string facts
    ("dateTime", "lt", "2026-01-01T00:00:00Z", NOW, True),
    ("dateTime", "lt", "2025-01-01", NOW, False),
    ("dateTime", "lteq", {"@value": "2025-06-01T12:00:00Z", "@type": "xsd:dateTime"}, NOW, True),
    ("dateTime", "gt", {"@value": "2025-05-31", "@type": "xsd:date"}, NOW, True),
    ("dateTime", "gteq", "2025-06-01T12:00:01Z", NOW, False),
    ("dateTime", "eq", "2025-06-01T14:00:00+02:00", NOW, True),
    ("dateTime", "neq", "2025-06-01T14:00:00+02:00", NOW, False),
    ("dateTime", "lt", "2025-06-02", datetime(2025, 6, 1, 23, 0), True),  # naive = UTC
    ("dateTime", "lt", "2025-06-02", "2025-06-01T10:00:00Z", True),
    # duration (elapsedTime)
    ("elapsedTime", "lteq", "PT1H", timedelta(minutes=59), True),
    ("elapsedTime", "lteq", "PT1H", timedelta(hours=2), False),
    ("elapsedTime", "lt", "P30D", timedelta(days=29, hours=23), True),
    ("elapsedTime", "gt", "P1W", timedelta(days=8), True),
    ("elapsedTime", "gteq", "P1Y", timedelta(days=364), False),
    ("elapsedTime", "eq", "PT90M", timedelta(minutes=90), True),
    ("elapsedTime", "neq", "PT90M", 5400, False),  # seconds are accepted
    ("elapsedTime", "lt", "P1M", "P29D", True),
    # count: the ordinal of this use (uses so far + 1)
    ("count", "lteq", 10, 9, True),
    ("count", "lteq", 10, 10, False),
    ("count", "lt", 1, 0, False),
    ("count", "eq", 1, 0, True),
    ("count", "neq", 1, 0, False),
    ("count", "gt", 2, 2, True),
    ("count", "gteq", 2, 0, False),
    ("count", "isAnyOf", [1, 2], 1, True),
    ("count", "isNoneOf", [1, 2], 1, False),
    ("count", "lteq", {"@value": "3", "@type": "xsd:integer"}, 2, True),
    # number (payAmount) with units
    ("payAmount", "gteq", {"@value": "5.00", "@type": "xsd:decimal"}, Decimal("5"), True),
    ("payAmount", "lt", 5, 4.5, True),
    ("payAmount", "eq", "5.00", {"value": 5, "unit": "EUR"}, True),
    ("payAmount", "neq", 5, 5, False),
    ("payAmount", "gt", 5, 5, False),
    ("payAmount", "lteq", 5, "5.01", False),
    ("payAmount", "isAnyOf", [5, 10], 10, True),
    ("payAmount", "isNoneOf", [5, 10], 10, False),
    # string (purpose)
    ("purpose", "eq", "traffic-planning", "traffic-planning", True),
    ("purpose", "eq", "traffic-planning", "marketing", False),
    ("purpose", "neq", "marketing", "traffic-planning", True),
    ("purpose", "isA", "research", "research", True),
    ("purpose", "isAnyOf", ["research", "planning"], "planning", True),
    ("purpose", "isAnyOf", ["research", "planning"], "marketing", False),
    ("purpose", "isNoneOf", ["marketing"], "planning", True),
    ("purpose", "isNoneOf", ["marketing"], "marketing", False),
    ("purpose", "isPartOf", ["research", "planning"], "research", True),
    ("purpose", "isAllOf", ["research"], "research", True),
    ("purpose", "isAllOf", ["research", "planning"], "research", False),
    ("purpose", "hasPart", ["research"], "research", True),
    (
        "purpose",
        "eq",
        {"@id": "https://w3id.org/dpv#Research"},
        "https://w3id.org/dpv#Research",
        True,
    ),
    # party (recipient)
    ("recipient", "eq", "did:web:city", "did:web:city", True),
    ("recipient", "neq", "did:web:city", "did:web:city", False),
    ("recipient", "isAnyOf", ["did:web:a", "did:web:b"], "did:web:b", True),
    ("recipient", "isNoneOf", ["did:web:a"], "did:web:a", False),
    ("recipient", "isPartOf", ["did:web:a"], "did:web:a", True),
    ("recipient", "isA", "did:web:a", "did:web:b", False),
    # set (role)
    ("role", "isA", "planner", ["planner", "viewer"], True),
    ("role", "isA", "admin", ["planner", "viewer"], False),
    ("role", "isAnyOf", ["admin", "viewer"], {"viewer"}, True),
    ("role", "isAllOf", ["planner", "viewer"], ["planner", "viewer", "x"], True),
    ("role", "isAllOf", ["planner", "admin"], ["planner", "viewer"], False),
    ("role", "hasPart", ["planner"], ["planner", "viewer"], True),
    ("role", "isPartOf", ["planner", "viewer"], ["planner"], True),
    ("role", "isPartOf", ["planner"], ["planner", "admin"], False),
    ("role", "isNoneOf", ["admin"], ["planner"], True),
    ("role", "eq", ["planner", "viewer"], ("viewer", "planner"), True),
    ("role", "neq", ["planner"], "planner", False),
    # level (securityLevel): base < trust < trust+
    ("securityLevel", "gteq", "trust", "trust+", True),
    ("securityLevel", "gteq", "trust", "base", False),
    ("securityLevel", "lt", "trust+", "trust", True),
    ("securityLevel", "lteq", "base", "trust", False),
    ("securityLevel", "gt", "base", "trust", True),
    ("securityLevel", "eq", "trust", "trust", True),
    ("securityLevel", "neq", "trust", "trust", False),
    ("securityLevel", "isAnyOf", ["trust", "trust+"], "trust", True),
    ("securityLevel", "isNoneOf", ["base"], "base", False),
    # geometry (spatial): containment with shapely
    ("spatial", "isPartOf", SQUARE, [5, 5], True),
    ("spatial", "isPartOf", SQUARE, [15, 5], False),
    ("spatial", "isPartOf", SQUARE, {"type": "Point", "coordinates": [10, 10]}, True),  # boundary
    ("spatial", "isA", SQUARE, SMALL, True),
    ("spatial", "hasPart", SMALL, SQUARE, True),
    ("spatial", "hasPart", FAR, SQUARE, False),
    ("spatial", "eq", SMALL, SMALL, True),
    ("spatial", "neq", SMALL, SQUARE, True),
    ("spatial", "isAnyOf", [FAR, SQUARE], [3, 3], True),
    ("spatial", "isNoneOf", [FAR, SQUARE], [3, 3], False),
    (
        "spatial",
        "isPartOf",
        {"@value": '{"type": "Point", "coordinates": [1, 1]}', "@type": "geo:geoJSONLiteral"},
        [1, 1],
        True,
    ),
]


@pytest.mark.parametrize(("left", "operator", "right", "fact", "allowed"), CASES)
def test_operator(left: str, operator: str, right: Any, fact: Any, allowed: bool) -> None:
    decision = decide_both(offer(c(left, operator, right)), ask({left: fact}))
    assert decision.allowed is allowed, decision.explain()
    reason = next(r for r in decision.reasons if r.constraint == "permission[0].constraint[0]")
    assert reason.satisfied is allowed
    assert reason.left_operand == left and reason.operator == operator


def test_reasons_carry_the_fact_used_as_json() -> None:
    decision = decide_both(
        offer(c("dateTime", "lt", "2026-01-01")),
        ask({"dateTime": datetime(2027, 1, 1, tzinfo=UTC)}),
    )
    reason = next(r for r in decision.reasons if r.constraint is not None)
    assert reason.value == "2027-01-01T00:00:00+00:00"
    assert reason.right_operand == "2026-01-01T00:00:00+00:00"
    assert reason.satisfied is False
