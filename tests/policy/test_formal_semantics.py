"""The W3C ODRL formal-semantics examples, read from the shared spec folder as fixtures.

Each example is a policy, an evaluation request, optionally a state of the world, and the expected
compliance report. The request and state are mapped to a :class:`Request` (see docs/policy.md,
"Formal semantics"):

* ``evaluatedAction`` -> ``action``, ``evaluatedTarget`` -> ``target``; ``evaluatedParty`` is not
  matched (the C examples ask as ``party/billie1`` under an agreement with ``party/billie`` and
  still expect Permit, so party matching is outside what they test);
* a request parameter describing ``sotw:CurrentXSDDateTime`` -> the ``dateTime`` fact (and the
  ``dayOfWeek`` fact the C2 profile operand reads); one describing dots per inch -> ``resolution``;
* a payment in the state whose ``conditionId`` names a duty -> ``fulfilled[duty] = {payAmount}``;
* evaluated at the ``access`` moment.

The report maps back: the rule's controlState Permit/Deny = ``allowed``; a ConstraintReport's
Satisfied/Not-Satisfied = the reason of the constraint (or refinement) with that ``@id``; a
ConditionReport's Inactive / Fulfilled / Not-set = the duty's "not active" / "fulfilled" /
"not fulfilled" reason.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from twinspace.policy import (
    FULFILLED,
    LEFT_OPERANDS,
    OperandSpec,
    Reason,
    Request,
    compile_policy,
    evaluate,
    parse_policy,
)
from twinspace.policy.model import walk
from twinspace.policy.values import parse_datetime

EXAMPLES = Path("/work/shared/spec/odrl/w3c-odrl-formal-semantics/formal-semantics/examples")
if not EXAMPLES.is_dir():  # the shared folder next to the checkout
    EXAMPLES = (
        Path(__file__).resolve().parents[3]
        / "shared/spec/odrl/w3c-odrl-formal-semantics/formal-semantics/examples"
    )

#: The C2 policy constrains its duty with ``ex:dayOfWeek``: a profile operand, registered here.
PROFILE = {
    **LEFT_OPERANDS,
    "dayOfWeek": OperandSpec(
        "dayOfWeek", "ex:dayOfWeek", frozenset({"access"}), "string", "the day of the week"
    ),
}
DATETIME_FEATURE = "sotw:CurrentXSDDateTime"
DPI_FEATURE = "http://dbpedia.org/resource/Dots_per_inch"


def _cases() -> list[Path]:
    return sorted(p.parent for p in EXAMPLES.rglob("evaluationrequest*.json"))


def _load(folder: Path, pattern: str) -> dict[str, Any] | None:
    found = sorted(folder.glob(pattern))
    return json.loads(found[0].read_text("utf-8")) if found else None


def _request(evaluation: dict[str, Any], state: dict[str, Any] | None) -> Request:
    facts: dict[str, Any] = {}
    parameters = evaluation.get("requestParameters", [])
    for parameter in parameters if isinstance(parameters, list) else [parameters]:
        value = parameter["value"]
        text = value.get("@value", value.get("@id"))
        if parameter["describesFeature"] == DATETIME_FEATURE:
            moment = parse_datetime(text)
            facts["dateTime"] = moment
            facts["dayOfWeek"] = datetime.strftime(moment, "%A")
        elif parameter["describesFeature"] == DPI_FEATURE:
            facts["resolution"] = int(text)
    if state is not None:
        payment = state["context"]
        facts[FULFILLED] = {
            payment["conditionId"]: {"payAmount": Decimal(payment["pay:netAmount"]["@value"])}
        }
    action = evaluation["evaluatedAction"].removeprefix("odrl:")
    return Request(action, "access", facts, target=evaluation.get("evaluatedTarget"))


def _reports(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [v for v in report.values() if isinstance(v, dict) and v.get("@type") == kind]


@pytest.mark.parametrize("folder", _cases(), ids=lambda p: p.name)
def test_formal_semantics_example(folder: Path) -> None:
    policy_doc = _load(folder.parent, "policy*.json")
    evaluation = _load(folder, "evaluationrequest*.json")
    report = _load(folder, "compliancereport*.json")
    assert policy_doc and evaluation and report
    policy = parse_policy(policy_doc, operands=PROFILE)
    request = _request(evaluation, _load(folder, "state*.json"))

    decision = evaluate(policy, request)
    assert compile_policy(policy).evaluate(request).allowed == decision.allowed

    (rule_report,) = _reports(report, "report:ruleReport")
    assert decision.allowed is (rule_report["report:controlState"] == "report:Permit")

    constraints = {}
    for rule in policy.rules:
        for duty in rule.duties:
            constraints.update({c.id: c.path for c in walk(duty.constraints + duty.refinements)})
        constraints.update({c.id: c.path for c in walk(rule.constraints + rule.refinements)})
    for expected in _reports(report, "report:ConstraintReport"):
        path = constraints[expected["report:constraint"]]
        reason = _reason(decision.reasons, lambda r, p=path: r.constraint == p)
        satisfied = expected["report:satisfactionState"] == "report:Satisfied"
        assert reason.satisfied is satisfied, (path, reason)

    duties = {d.id: d for rule in policy.permissions for d in rule.duties}
    for expected in _reports(report, "report:ConditionReport"):
        duty = duties[expected.get("report:condition", expected.get("report:constraint"))]
        reason = _reason(decision.reasons, lambda r, d=duty: r.rule == d.path and r.kind == "duty")
        state = expected["report:deonticState"]
        if expected["report:activationState"] == "report:Inactive":
            assert reason.message.endswith("is not active")
        elif state == "report:Fulfilled":
            assert reason.satisfied is True and reason.message.endswith("is fulfilled")
        else:  # Not-set: active and not performed, so the permission is blocked
            assert state == "report:Not-set"
            assert reason.satisfied is False and "not fulfilled" in reason.message
            assert not decision.allowed


def _reason(reasons: tuple[Reason, ...], match: Any) -> Reason:
    found = [r for r in reasons if match(r)]
    assert found, reasons
    return found[-1]


def test_all_nine_examples_are_found() -> None:
    assert len(_cases()) == 9
