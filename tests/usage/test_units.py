"""The run-time usage-control pieces on their own: facts from claims, declarations, the decision
cache, acceptance by equality, the monitor's stop rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from twinspace.policy import Decision, Reason
from twinspace.store import AcceptanceRule
from twinspace.usage.acceptance import acceptable, counter_offer, rules_of
from twinspace.usage.claims import facts_of
from twinspace.usage.decisions import UsageControl, odrl_of, policy_key, why
from twinspace.usage.enforcement import BadDeclaration, declared_from
from twinspace.usage.monitor import final, violated

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SPACE = "urn:twinspace:dataspace:test"


def test_facts_come_only_from_what_was_verified() -> None:
    claims = {
        "did": "did:web:c.test:c",
        "member": True,
        "memberOf": [SPACE],
        "roles": ["consumer"],
        "country": "DE",
        "credentialTypes": ["MembershipCredential"],
    }
    facts = facts_of(claims, SPACE)
    assert facts == {
        "recipient": "did:web:c.test:c",
        "membership": "active",
        "role": frozenset({"consumer"}),
        "credentialType": frozenset({"MembershipCredential"}),
        "country": "DE",
    }
    assert facts_of({**claims, "memberOf": ["urn:other"]}, SPACE)["membership"] == "none"
    assert facts_of({**claims, "revoked": True}, SPACE)["membership"] == "revoked"
    assert facts_of(None, SPACE) == {}
    assert facts_of({"did": "urn:x"}, SPACE) == {"recipient": "urn:x"}  # unauthenticated


def test_declarations_are_read_from_headers() -> None:
    declared = declared_from(
        {
            "twinspace-purpose": " traffic-planning ",
            "twinspace-deployment-location": "edge-7",
            "twinspace-location": "4.85,45.75",
        }
    )
    assert declared == {
        "purpose": "traffic-planning",
        "deploymentLocation": "edge-7",
        "spatial": [4.85, 45.75],
    }
    assert declared_from({}) == {}


@pytest.mark.parametrize(
    "headers",
    [
        {"twinspace-purpose": "  "},
        {"twinspace-purpose": "x" * 600},
        {"twinspace-location": "north"},
        {"twinspace-location": "1,2,3"},
        {"twinspace-location": "200,10"},
        {"twinspace-location": "nan,1"},
    ],
)
def test_bad_declarations_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(BadDeclaration):
        declared_from(headers)


def test_a_policy_is_compiled_once_and_an_unreadable_one_denies() -> None:
    usage = UsageControl(SPACE, max_compiled=2)
    policy = {"permission": [{"action": "use"}]}
    assert usage.compiled(policy) is usage.compiled(dict(policy))
    assert usage.decide(policy, moment="access", facts={"dateTime": NOW}).allowed
    broken = {"permission": [{"action": "use", "constraint": [{"leftOperand": "colour"}]}]}
    decision = usage.decide(broken, moment="access", facts={})
    assert not decision.allowed
    assert "cannot be evaluated" in why(decision)
    for i in range(3):  # the cache is bounded
        usage.compiled({"permission": [{"action": "use"}], "uid": f"p-{i}"})
    assert len(usage._compiled) == 2
    assert policy_key(policy) == policy_key({"permission": [{"action": "use"}]})


def test_an_agreement_is_read_without_its_dsp_timestamp() -> None:
    agreement = {"@type": "Agreement", "timestamp": "2026-01-01T00:00:00Z", "permission": []}
    assert "timestamp" not in odrl_of(agreement)


def test_facts_of_a_moment() -> None:
    from twinspace.store import Agreement

    usage = UsageControl(SPACE)
    agreement = Agreement(
        id="a", negotiation_id="n", asset_id="x", provider_id="p", consumer_id="c",
        policy={}, signed_at=NOW - timedelta(hours=1),
    )  # fmt: skip
    facts = usage.facts(None, now=NOW, agreement=agreement, count=3, purpose=None, spatial=[1, 2])
    assert facts == {
        "dateTime": NOW,
        "elapsedTime": timedelta(hours=1),
        "count": 3,
        "spatial": [1, 2],
    }


def test_acceptance_compares_rules_only() -> None:
    offer = {
        "@id": "o-1",
        "@type": "Offer",
        "assigner": "did:web:p",
        "target": "x",
        "permission": [{"action": "use", "constraint": [{"leftOperand": "purpose"}]}],
    }
    rule = AcceptanceRule(
        "r", {"permission": {"action": "use", "constraint": [{"leftOperand": "purpose"}]}}, NOW
    )
    assert rules_of(offer) == rules_of(rule.policy)
    assert acceptable(offer, [rule]) is rule
    assert acceptable({**offer, "permission": [{"action": "use"}]}, [rule]) is None
    counter = counter_offer(offer, rule)
    assert counter["@id"] == "o-1" and counter["target"] == "x"
    assert counter["permission"] == rule.policy["permission"]


def _reason(operand: str | None, satisfied: bool | None) -> Reason:
    return Reason(
        rule="permission[0]", kind="permission", message="m", left_operand=operand,
        satisfied=satisfied,
    )  # fmt: skip


def test_the_monitor_terminates_only_for_what_cannot_come_back() -> None:
    time_over = Decision(False, (_reason("dateTime", False), _reason("count", False)))
    assert violated(time_over) and final(time_over)
    membership = Decision(False, (_reason("dateTime", True), _reason("membership", False)))
    assert violated(membership) and not final(membership)
    unknown = Decision(False, (_reason("purpose", None),))
    assert not violated(unknown)  # an access-time fact: each access decides
