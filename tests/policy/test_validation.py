"""validate_policy: parse errors as problems, contradictions, overlaps, duty parameters."""

from __future__ import annotations

from typing import Any

import pytest

from twinspace.policy import validate_policy

from .helpers import c, offer


def _messages(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(p.severity, p.path, p.message) for p in validate_policy(doc)]


@pytest.mark.parametrize(
    "constraints",
    [
        [c("dateTime", "lt", "2025-01-01"), c("dateTime", "gt", "2025-06-01")],
        [c("dateTime", "lt", "2025-01-01"), c("dateTime", "gteq", "2025-01-01")],
        [c("count", "lteq", 0)],
        [c("count", "lt", 1)],
        [c("elapsedTime", "lt", "PT0S")],
        [c("payAmount", "eq", 5), c("payAmount", "eq", 6)],
        [c("payAmount", "eq", 5), c("payAmount", "gt", 5)],
        [c("payAmount", "eq", 5), c("payAmount", "neq", 5)],
        [c("securityLevel", "gt", "trust"), c("securityLevel", "lt", "trust+")],
        [c("purpose", "eq", "a"), c("purpose", "eq", "b")],
        [c("purpose", "eq", "a"), c("purpose", "neq", "a")],
        [c("purpose", "isAnyOf", ["a", "b"]), c("purpose", "isNoneOf", ["a", "b"])],
        [{"and": [c("purpose", "eq", "a"), c("purpose", "isAnyOf", ["b"])]}],
    ],
)
def test_contradictions_are_errors(constraints: list[dict[str, Any]]) -> None:
    (problem,) = validate_policy(offer(*constraints))
    assert problem.severity == "error" and problem.path == "permission[0]"
    assert "can never all hold" in problem.message


@pytest.mark.parametrize(
    "constraints",
    [
        [c("dateTime", "gt", "2025-01-01"), c("dateTime", "lt", "2025-06-01")],
        [c("count", "lteq", 1)],
        [c("purpose", "isAnyOf", ["a", "b"]), c("purpose", "neq", "a")],
        [{"or": [c("purpose", "eq", "a"), c("purpose", "eq", "b")]}],
        [c("role", "isA", "a"), c("role", "isA", "b")],
    ],
)
def test_satisfiable_constraints_are_fine(constraints: list[dict[str, Any]]) -> None:
    assert validate_policy(offer(*constraints)) == []


@pytest.mark.parametrize(
    ("conflict", "severity"), [(None, "error"), ("invalid", "error"), ("perm", "warning"),
                               ("prohibit", "warning")]
)  # fmt: skip
def test_permission_and_prohibition_that_can_both_apply(
    conflict: str | None, severity: str
) -> None:
    doc = offer(c("purpose", "eq", "planning"))
    doc["prohibition"] = [
        {"action": "distribute", "constraint": [c("recipient", "eq", "did:web:x")]}
    ]
    if conflict:
        doc["conflict"] = conflict
    ((sev, path, message),) = _messages(doc)
    assert (sev, path) == (severity, "prohibition[0]") and "can both apply" in message


@pytest.mark.parametrize(
    "prohibition",
    [
        {"action": "transfer"},  # disjoint actions
        {"action": "use", "constraint": [c("purpose", "eq", "marketing")]},  # disjoint purposes
        {"action": "use", "assignee": "did:web:other"},
    ],
)
def test_disjoint_permission_and_prohibition(prohibition: dict[str, Any]) -> None:
    doc = offer(c("purpose", "eq", "planning"), assignee="did:web:city")
    doc["prohibition"] = [prohibition]
    assert validate_policy(doc) == []


def test_parse_errors_become_problems() -> None:
    (problem,) = validate_policy(offer(c("colour", "eq", "red")))
    assert (problem.severity, problem.path) == ("error", "permission[0].constraint[0].leftOperand")


@pytest.mark.parametrize(
    ("duty", "missing"),
    [({"action": "inform"}, "informedParty"), ({"action": "nextPolicy"}, "policy"),
     ({"action": "compensate"}, "payAmount")],
)  # fmt: skip
def test_duty_parameters(duty: dict[str, Any], missing: str) -> None:
    doc = offer()
    doc["permission"][0]["duty"] = [duty]
    ((severity, path, message),) = _messages(doc)
    assert (severity, path) == ("warning", "permission[0].duty[0]") and missing in message


def test_empty_policy_and_agreement_without_parties_warn() -> None:
    problems = _messages({"@type": "Agreement", "prohibition": [{"action": "sell"}]})
    assert [p[0] for p in problems] == ["warning", "warning"]
