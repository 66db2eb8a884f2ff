"""Rules, logical constraints, conflicts, prohibitions, refinements, duties, parties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from twinspace.policy import ACTIONS, FULFILLED, Request, compile_policy, evaluate, parse_policy

from .helpers import NOW, ask, c, decide_both, offer

P = c("purpose", "eq", "planning")
R = c("recipient", "eq", "did:web:city")
D = c("dateTime", "lt", "2030-01-01")


@pytest.mark.parametrize(
    ("logical", "facts", "allowed"),
    [
        ({"and": [P, R]}, {"purpose": "planning", "recipient": "did:web:city"}, True),
        ({"and": [P, R]}, {"purpose": "planning", "recipient": "did:web:x"}, False),
        ({"or": [P, R]}, {"purpose": "x", "recipient": "did:web:city"}, True),
        ({"or": [P, R]}, {"purpose": "x", "recipient": "did:web:x"}, False),
        ({"or": [P, R]}, {"purpose": "planning"}, True),  # one true member is enough
        ({"or": [P, R]}, {"purpose": "x"}, False),  # false or unknown: unknown, not granted
        ({"xone": [P, R]}, {"purpose": "planning", "recipient": "did:web:x"}, True),
        ({"xone": [P, R]}, {"purpose": "planning", "recipient": "did:web:city"}, False),
        ({"xone": [P, R]}, {"purpose": "x", "recipient": "did:web:x"}, False),
        ({"xone": [P, R]}, {"purpose": "planning"}, False),  # unknown: not granted
        ({"andSequence": [P, R]}, {"purpose": "planning", "recipient": "did:web:city"}, True),
        ({"andSequence": [P, R]}, {"purpose": "x", "recipient": "did:web:city"}, False),
        (
            {"andSequence": {"@list": [P, R]}},
            {"purpose": "planning", "recipient": "did:web:city"},
            True,
        ),
        (
            {"or": [{"and": [P, R]}, {"xone": [D, c("count", "lteq", 1)]}]},
            {"purpose": "x", "dateTime": NOW, "count": 5},
            True,
        ),
        (
            {"or": [{"and": [P, R]}, {"xone": [D, c("count", "lteq", 1)]}]},
            {"purpose": "x", "dateTime": NOW, "count": 0},
            False,
        ),
    ],
)
def test_logical_constraints(logical: dict[str, Any], facts: dict[str, Any], allowed: bool) -> None:
    decision = decide_both(offer(logical), ask(facts))
    assert decision.allowed is allowed, decision.explain()
    assert any(
        r.constraint == "permission[0].constraint[0]" and r.operator for r in decision.reasons
    )


def test_and_sequence_stops_at_the_first_failure() -> None:
    decision = evaluate(offer({"andSequence": [P, R]}), ask({"purpose": "x"}))
    assert not any(r.left_operand == "recipient" for r in decision.reasons)


def _conflicting(conflict: str | None) -> dict[str, Any]:
    doc = offer(P)
    doc["prohibition"] = [{"action": "distribute", "remedy": [{"action": "delete"}]}]
    if conflict is not None:
        doc["conflict"] = conflict
    return doc


@pytest.mark.parametrize(
    ("conflict", "allowed"),
    [(None, False), ("invalid", False), ("prohibit", False), ("perm", True)],
)
def test_conflict_strategies(conflict: str | None, allowed: bool) -> None:
    decision = decide_both(
        _conflicting(conflict), ask({"purpose": "planning"}, action="distribute")
    )
    assert decision.allowed is allowed
    policy_reason = next(r for r in decision.reasons if r.kind == "policy")
    assert "both apply" in policy_reason.message
    if not allowed:
        assert [d.action for d in decision.remedies] == ["delete"]


def test_prohibition_not_covering_the_action_does_not_interfere() -> None:
    decision = decide_both(_conflicting(None), ask({"purpose": "planning"}, action="read"))
    assert decision.allowed and decision.remedies == ()


def test_prohibition_of_a_part_applies_to_the_whole() -> None:
    # "use" includes "distribute": a request to use broadly may distribute, so it is refused
    assert not decide_both(_conflicting(None), ask({"purpose": "planning"})).allowed


def test_prohibition_with_unknown_fact_applies() -> None:
    doc = offer()
    doc["prohibition"] = [{"action": "use", "constraint": [c("country", "eq", "US")]}]
    assert not decide_both(doc, ask({})).allowed  # fails closed
    assert decide_both(doc, ask({"country": "DE"})).allowed


def test_prohibition_deferred_outside_its_moment() -> None:
    doc = offer()
    doc["prohibition"] = [{"action": "use", "constraint": [c("purpose", "eq", "marketing")]}]
    assert decide_both(doc, ask({}, moment="catalog")).allowed
    assert not decide_both(doc, ask({}, moment="access")).allowed


@pytest.mark.parametrize(
    ("action", "allowed"),
    [("use", True), ("read", True), ("display", True), ("play", True), ("odrl:print", True),
     (ACTIONS["reproduce"].iri, True), ("transfer", False), ("sell", False), ("nonsense", False)],
)  # fmt: skip
def test_action_inclusion(action: str, allowed: bool) -> None:
    decision = decide_both(offer(), ask({}, action=action))
    assert decision.allowed is allowed


def test_unknown_action_in_request_denies_with_reason() -> None:
    decision = evaluate(offer(), ask({}, action="nonsense"))
    assert decision.reasons[-1].message == "unknown action 'nonsense'"


def test_no_permission_denies_with_reason() -> None:
    decision = decide_both({"@type": "Set", "permission": []}, ask({}))
    assert not decision.allowed
    assert decision.reasons[-1].message == "no permission allows use"


def test_refinement_on_the_action() -> None:
    doc = offer(action={"action": "print", "refinement": [c("resolution", "lteq", 1200)]})
    assert decide_both(doc, ask({"resolution": 600}, action="print")).allowed
    assert not decide_both(doc, ask({"resolution": 2400}, action="print")).allowed
    reason = evaluate(doc, ask({"resolution": 2400}, action="print")).reasons[0]
    assert reason.constraint == "permission[0].action.refinement[0]"


@pytest.mark.parametrize(
    ("assignee", "target", "allowed"),
    [("did:web:city", "asset-1", True), (None, None, True), ("did:web:other", "asset-1", False),
     ("did:web:city", "asset-2", False)],
)  # fmt: skip
def test_parties_and_target(assignee: str | None, target: str | None, allowed: bool) -> None:
    doc = offer(assignee="did:web:city", target="asset-1")
    decision = decide_both(doc, ask({}, assignee=assignee, target=target))
    assert decision.allowed is allowed


def test_first_matching_permission_carries_its_duties() -> None:
    doc = offer(P)
    doc["permission"][0]["duty"] = [
        {"action": "delete", "constraint": [c("elapsedTime", "lteq", "P30D")]},
        {"action": "inform", "informedParty": "did:web:provider"},
        {"action": "log"},
        {"action": "nextPolicy", "target": "urn:policy:next"},
    ]
    doc["permission"].append({"action": "use", "duty": [{"action": "notify"}]})
    decision = decide_both(doc, ask({"purpose": "planning"}))
    assert [d.action for d in decision.duties] == ["delete", "inform", "log", "nextPolicy"]
    delete, inform, _, next_policy = decision.duties
    assert delete.parameters == {"within": timedelta(days=30)}
    assert inform.parameters["informedParty"] == "did:web:provider"
    assert next_policy.parameters["policy"] == "urn:policy:next"
    explained = decision.explain()
    assert explained["duties"][0]["parameters"] == {"within": "P30D"}
    other = decide_both(doc, ask({"purpose": "x"}))
    assert [d.action for d in other.duties] == ["notify"]


def test_delete_by_a_date() -> None:
    doc = offer()
    doc["permission"][0]["duty"] = [
        {"action": "delete", "constraint": [c("dateTime", "lteq", "2026-01-01")]}
    ]
    (duty,) = decide_both(doc, ask({"dateTime": NOW})).duties
    assert duty.parameters == {"by": datetime(2026, 1, 1, tzinfo=UTC)}


def test_duty_with_a_condition_is_carried_only_when_active() -> None:
    doc = offer()
    doc["permission"][0]["duty"] = [{"action": "inform", "informedParty": "did:web:p",
                                     "constraint": [c("purpose", "eq", "research")]}]  # fmt: skip
    assert decide_both(doc, ask({"purpose": "research"})).duties
    assert not decide_both(doc, ask({"purpose": "planning"})).duties
    assert decide_both(doc, ask({})).duties  # unknown: carried (fails closed)


COMPENSATE = {"@id": "urn:duty:pay", "action": {"action": "compensate",
              "refinement": [c("payAmount", "eq", 5, unit="EUR")]}}  # fmt: skip


@pytest.mark.parametrize(
    ("moment", "fulfilled", "allowed", "carried"),
    [
        ("negotiation", None, True, True),  # to be paid before use: announced, not required yet
        ("access", None, False, False),
        ("access", ["urn:duty:pay"], True, False),
        ("access", ["permission[0].duty[0]"], True, False),
        ("access", {"urn:duty:pay": {"payAmount": 5}}, True, False),
        ("access", {"compensate": {"payAmount": {"value": "5.00", "unit": "EUR"}}}, True, False),
        ("access", {"urn:duty:pay": {"payAmount": 4}}, False, False),
        ("access", {"urn:duty:pay": {"payAmount": {"value": 5, "unit": "USD"}}}, False, False),
        ("transfer", ["someOtherDuty"], False, False),
    ],
)
def test_pre_condition_duty(moment: str, fulfilled: Any, allowed: bool, carried: bool) -> None:
    doc = offer()
    doc["permission"][0]["duty"] = [COMPENSATE]
    facts = {} if fulfilled is None else {FULFILLED: fulfilled}
    decision = decide_both(doc, Request("use", moment, facts))  # type: ignore[arg-type]
    assert decision.allowed is allowed
    assert bool(decision.duties) is carried
    if carried:
        assert decision.duties[0].parameters == {"payAmount": 5, "unit": "EUR"}


def test_obligations_are_carried_when_allowed() -> None:
    doc = offer()
    doc["obligation"] = [{"action": "compensate", "assignee": "did:web:city",
                          "constraint": [c("event", "isA", "invoiceDue")],
                          "consequence": [{"action": "inform", "informedParty": "did:web:p"}]}]  # fmt: skip
    decision = decide_both(doc, ask({"event": ["invoiceDue"]}))
    (duty,) = decision.duties
    assert duty.kind == "obligation" and duty.consequences[0].action == "inform"
    assert decide_both(doc, ask({"event": []})).duties == ()


def test_compiled_decision_explains_on_request() -> None:
    compiled = compile_policy(parse_policy(offer(P)))
    quick = compiled.evaluate(ask({"purpose": "planning"}))
    assert quick.allowed and len(quick.reasons) == 1
    full = compiled.evaluate(ask({"purpose": "planning"}), explain=True)
    assert full.allowed and any(r.left_operand == "purpose" for r in full.reasons)
    denied = compiled.evaluate(ask({"purpose": "x"}))
    assert any(r.left_operand == "purpose" and r.satisfied is False for r in denied.reasons)


def test_wrong_type_fact_is_unknown_never_satisfied() -> None:
    decision = decide_both(offer(c("count", "lteq", 5)), ask({"count": "three"}))
    assert not decision.allowed
    reason = decision.reasons[0]
    assert reason.satisfied is None and "not a non-negative integer" in reason.message


def test_unknown_moment_denies() -> None:
    assert not evaluate(offer(), Request("use", "later", {})).allowed  # type: ignore[arg-type]


def test_explain_is_json() -> None:
    import json

    doc = offer(P, c("spatial", "isPartOf", [1, 2]), c("elapsedTime", "lt", "PT1H"))
    decision = evaluate(doc, ask({"purpose": "x", "spatial": [1, 2], "elapsedTime": 10}))
    json.dumps(decision.explain())
