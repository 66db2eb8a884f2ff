"""Every left operand: a satisfied and an unsatisfied case, its spellings, and its moments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from twinspace.policy import LEFT_OPERANDS, MOMENTS, ODRL_NS, TWINSPACE_NS, parse_policy

from .helpers import NOW, ask, c, decide_both, offer

AREA = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}

# left operand -> (operator, right operand, a fact that satisfies it, one that does not)
ROWS: dict[str, tuple[str, Any, Any, Any]] = {
    "dateTime": ("lt", "2030-01-01", NOW, "2031-01-01T00:00:00Z"),
    "elapsedTime": ("lteq", "P30D", timedelta(days=3), timedelta(days=31)),
    "count": ("lteq", 3, 2, 3),
    "purpose": ("eq", "traffic-planning", "traffic-planning", "marketing"),
    "recipient": ("eq", "did:web:city", "did:web:city", "did:web:other"),
    "spatial": ("isPartOf", AREA, [0.5, 0.5], [2, 2]),
    "event": ("isNoneOf", ["agreementSuspended"], ["agreementStarted"], ["agreementSuspended"]),
    "payAmount": ("gteq", 10, 10, 9),
    "resolution": ("lteq", 1200, 600, 2400),
    "industry": ("eq", "mobility", "mobility", "retail"),
    "membership": ("eq", "active", "active", "revoked"),
    "role": ("isA", "planner", {"planner"}, {"viewer"}),
    "country": ("isAnyOf", ["DE", "FR"], "DE", "US"),
    "legalName": ("eq", "Mobility GmbH", "Mobility GmbH", "Other AG"),
    "credentialType": ("isAllOf", ["MembershipCredential"], ["MembershipCredential", "X"], ["X"]),
    "deploymentLocation": ("isAnyOf", ["edge-7", "dc-1"], "edge-7", "edge-9"),
    "securityLevel": ("gteq", "trust", "trust+", "base"),
    "state": ("isA", "agreementActive", ["agreementActive"], ["agreementSuspended"]),
}


def test_every_registered_operand_has_a_row() -> None:
    assert set(ROWS) == set(LEFT_OPERANDS)


@pytest.mark.parametrize("name", sorted(ROWS))
def test_operand_satisfied_and_not(name: str) -> None:
    operator, right, good, bad = ROWS[name]
    doc = offer(c(name, operator, right))
    assert decide_both(doc, ask({name: good})).allowed
    denied = decide_both(doc, ask({name: bad}))
    assert not denied.allowed
    assert any(r.left_operand == name and r.satisfied is False for r in denied.reasons)


@pytest.mark.parametrize("name", sorted(ROWS))
def test_operand_missing_at_its_moment_is_unsatisfied(name: str) -> None:
    operator, right, _, _ = ROWS[name]
    moment = sorted(LEFT_OPERANDS[name].moments)[0]
    decision = decide_both(offer(c(name, operator, right)), ask({}, moment=moment))
    assert not decision.allowed
    reason = next(r for r in decision.reasons if r.left_operand == name)
    assert reason.satisfied is None and reason.message == f"no value for {name}"


@pytest.mark.parametrize("name", sorted(ROWS))
def test_operand_is_deferred_outside_its_moments(name: str) -> None:
    operator, right, _, bad = ROWS[name]
    spec = LEFT_OPERANDS[name]
    doc = offer(c(name, operator, right))
    for moment in MOMENTS:
        if moment in spec.moments:
            continue
        decision = decide_both(doc, ask({}, moment=moment))
        assert decision.allowed, (name, moment)  # not due yet: neither grants nor blocks
        reason = next(r for r in decision.reasons if r.left_operand == name)
        assert reason.satisfied is None and "is checked at" in reason.message
        # a fact given anyway is evaluated
        assert not decide_both(doc, ask({name: bad}, moment=moment)).allowed


@pytest.mark.parametrize("name", sorted(ROWS))
def test_operand_spellings_normalise_to_the_short_name(name: str) -> None:
    operator, right, _, _ = ROWS[name]
    ns = TWINSPACE_NS if LEFT_OPERANDS[name].iri.startswith(TWINSPACE_NS) else ODRL_NS
    prefix = "twinspace:" if ns == TWINSPACE_NS else "odrl:"
    expected = parse_policy(offer(c(name, operator, right)))
    for spelling in (prefix + name, ns + name, {"@id": ns + name}):
        assert parse_policy(offer(c(spelling, operator, right))) == expected


def test_registry_documents_each_operand() -> None:
    for name, spec in LEFT_OPERANDS.items():
        assert spec.name == name and spec.iri.endswith(name)
        assert spec.moments and spec.moments <= set(MOMENTS)
        assert spec.description
