"""The compiled path agrees with the interpreted one on generated policies and requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from twinspace.policy import FULFILLED, MOMENTS, Request, compile_policy, decide, parse_policy

from .helpers import c

BASE = datetime(2025, 1, 1, tzinfo=UTC)
AREA = {"type": "Polygon", "coordinates": [[[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]]]}

CONSTRAINTS = st.sampled_from([
    c("purpose", "eq", "a"), c("purpose", "neq", "b"), c("purpose", "isAnyOf", ["a", "b"]),
    c("purpose", "isNoneOf", ["c"]), c("recipient", "eq", "did:x"),
    c("dateTime", "lt", "2025-01-03"), c("dateTime", "gteq", "2025-01-02"),
    c("elapsedTime", "lteq", "P1D"), c("count", "lteq", 2), c("count", "isAnyOf", [1, 3]),
    c("payAmount", "gt", 5), c("securityLevel", "gteq", "trust"), c("role", "isA", "r1"),
    c("role", "isAllOf", ["r1", "r2"]), c("spatial", "isPartOf", AREA),
    c("country", "isAnyOf", ["DE", "FR"]), c("event", "isNoneOf", ["suspended"]),
    {"or": [c("purpose", "eq", "a"), c("count", "lt", 2)]},
    {"xone": [c("country", "eq", "DE"), c("role", "isA", "r2")]},
])  # fmt: skip

FACTS = st.fixed_dictionaries(
    {},
    optional={
        "purpose": st.sampled_from(["a", "b", "c", 3]),
        "recipient": st.sampled_from(["did:x", "did:y"]),
        "dateTime": st.sampled_from([BASE, BASE + timedelta(days=1), BASE + timedelta(days=3),
                                     datetime(2025, 1, 2), "2025-01-02T10:00:00Z"]),
        "elapsedTime": st.sampled_from([timedelta(hours=3), timedelta(days=2), 60, "P2D"]),
        "count": st.integers(min_value=-1, max_value=4),
        "payAmount": st.sampled_from([4, 6, 5.5, "7", {"value": 6, "unit": "EUR"}, True]),
        "securityLevel": st.sampled_from(["base", "trust", "trust+", "x"]),
        "role": st.sampled_from([["r1"], ["r1", "r2"], "r2", [], [1]]),
        "spatial": st.sampled_from([[1, 1], [9, 9], {"type": "Point", "coordinates": [2, 2]}]),
        "country": st.sampled_from(["DE", "US", None]),
        "event": st.sampled_from([["suspended"], [], "started"]),
        FULFILLED: st.sampled_from([["urn:d"], {"compensate": {"payAmount": 6}}]),
    },
)  # fmt: skip


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    def rule(kind: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": draw(st.sampled_from(["use", "read", "distribute", "transfer"])),
            "constraint": draw(st.lists(CONSTRAINTS, max_size=4)),
        }
        if draw(st.booleans()):
            out["assignee"] = draw(st.sampled_from(["did:x", "did:y"]))
        if kind == "permission" and draw(st.booleans()):
            out["duty"] = draw(st.lists(st.sampled_from([
                {"action": "delete", "constraint": [c("elapsedTime", "lteq", "P30D")]},
                {"action": "inform", "informedParty": "did:p", "constraint": [c("purpose", "eq", "a")]},
                {"@id": "urn:d", "action": {"action": "compensate",
                                            "refinement": [c("payAmount", "gt", 5)]}},
            ]), max_size=2))  # fmt: skip
        return out

    doc: dict[str, Any] = {
        "@type": "Agreement",
        "permission": [rule("permission") for _ in range(draw(st.integers(1, 3)))],
        "prohibition": [rule("prohibition") for _ in range(draw(st.integers(0, 2)))],
        "conflict": draw(st.sampled_from(["perm", "prohibit", "invalid"])),
    }
    if draw(st.booleans()):
        doc["obligation"] = [{"action": "log", "constraint": [c("country", "eq", "DE")]}]
    return doc


@settings(max_examples=400, deadline=None)
@given(
    doc=policies(),
    facts=FACTS,
    action=st.sampled_from(["use", "read", "odrl:read", "distribute", "give", "x"]),
    moment=st.sampled_from(MOMENTS),
    assignee=st.sampled_from([None, "did:x", "did:y"]),
)
def test_compiled_equals_interpreted(
    doc: dict[str, Any], facts: dict[str, Any], action: str, moment: Any, assignee: str | None
) -> None:
    policy = parse_policy(doc)
    request = Request(action, moment, facts, assignee=assignee)
    slow = decide(policy, request)
    fast = compile_policy(policy).evaluate(request)
    assert (fast.allowed, fast.duties, fast.remedies) == (slow.allowed, slow.duties, slow.remedies)
