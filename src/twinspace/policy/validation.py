"""Definition-time checks beyond parsing: contradictions and likely mistakes.

Every :class:`PolicyError` the parser would raise is reported as an error; then

* a rule whose (and-ed) constraints can never all hold is an error (``dateTime lt X`` and
  ``gt Y`` with Y >= X, ``count lteq 0``, ``purpose eq a`` and ``eq b``, ...);
* a permission and a prohibition whose actions overlap and whose constraints can hold together
  are reported: an error under ``conflict=invalid`` (the policy would be void whenever both apply),
  a warning under ``perm``/``prohibit`` (resolved, but probably not meant);
* missing parameters of duties (inform without informedParty, nextPolicy without target,
  compensate without payAmount) and agreements without parties are warnings.

The analysis looks at top-level constraints and ``and`` groups only; it never claims a
contradiction that is not one (or/xone are left alone).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from .errors import PolicyError, Problem
from .model import AnyConstraint, Constraint, Duty, LogicalConstraint, Policy, Rule
from .operands import SECURITY_LEVELS
from .parser import parse_policy
from .vocabulary import ACTIONS

_RANK = {level: i for i, level in enumerate(SECURITY_LEVELS)}
_ORDERED_TYPES = frozenset({"dateTime", "duration", "count", "number", "level"})
_EQUALITY_TYPES = frozenset({"string", "party"})


def validate_policy(doc: Mapping[str, Any]) -> list[Problem]:
    """Every problem found in ``doc`` (empty when none); never raises for a bad policy."""
    try:
        policy = parse_policy(doc)
    except PolicyError as exc:
        return [Problem(exc.path, exc.message, "error")]
    problems: list[Problem] = []
    if not policy.permissions:
        problems.append(Problem("permission", "the policy permits nothing", "warning"))
    unparty = policy.assigner is None or policy.assignee is None
    rules_unparty = not all(r.assignee and r.assigner for r in policy.rules)
    if policy.type == "Agreement" and unparty and rules_unparty:
        problems.append(Problem("$", "an Agreement needs an assigner and an assignee", "warning"))
    for rule in policy.rules:
        why = contradiction(rule.refinements + rule.constraints)
        if why is not None:
            problems.append(Problem(rule.path, f"its constraints can never all hold: {why}"))
        for duty in (*rule.duties, *rule.remedies):
            problems.extend(_duty_problems(duty))
    for duty in policy.obligations:
        problems.extend(_duty_problems(duty))
    for permission in policy.permissions:
        for prohibition in policy.prohibitions:
            problem = _overlap(policy, permission, prohibition)
            if problem is not None:
                problems.append(problem)
    return problems


def _duty_problems(duty: Duty) -> list[Problem]:
    found: list[Problem] = []
    needs = {"inform": "informedParty", "notify": "informedParty", "nextPolicy": "policy",
             "compensate": "payAmount"}  # fmt: skip
    wanted = needs.get(duty.action)
    if wanted is not None and wanted not in duty.parameters:
        found.append(Problem(duty.path, f"{duty.action} without {wanted}", "warning"))
    why = contradiction(duty.constraints)
    if why is not None:
        found.append(Problem(duty.path, f"its constraints can never all hold: {why}"))
    return found


def _overlap(policy: Policy, permission: Rule, prohibition: Rule) -> Problem | None:
    a, b = ACTIONS[permission.action], ACTIONS[prohibition.action]
    if permission.action not in b.includes and prohibition.action not in a.includes:
        return None
    for mine, theirs in (
        (permission.target or policy.target, prohibition.target or policy.target),
        (permission.assignee or policy.assignee, prohibition.assignee or policy.assignee),
    ):
        if mine is not None and theirs is not None and mine != theirs:
            return None
    both = permission.refinements + permission.constraints + prohibition.refinements
    if contradiction(both + prohibition.constraints) is not None:
        return None
    if contradiction(permission.refinements + permission.constraints) is not None:
        return None
    text = (
        f"{permission.path} ({permission.action}) and {prohibition.path} ({prohibition.action}) "
        "can both apply"
    )
    if policy.conflict == "invalid":
        return Problem(prohibition.path, text + "; with conflict=invalid the policy is then void")
    winner = "permission" if policy.conflict == "perm" else "prohibition"
    return Problem(prohibition.path, f"{text}; conflict={policy.conflict}: the {winner} wins",
                   "warning")  # fmt: skip


def _flatten(items: tuple[AnyConstraint, ...]) -> list[Constraint]:
    """The atomic constraints that must all hold (through ``and``/``andSequence`` only)."""
    found: list[Constraint] = []
    for item in items:
        if isinstance(item, LogicalConstraint):
            if item.operator in ("and", "andSequence"):
                found.extend(_flatten(item.constraints))
        else:
            found.append(item)
    return found


def contradiction(items: tuple[AnyConstraint, ...]) -> str | None:
    """Why the and-ed ``items`` can never all hold, or None when they might."""
    by_operand: dict[str, list[Constraint]] = {}
    for item in _flatten(items):
        by_operand.setdefault(item.left_operand, []).append(item)
    for name, group in by_operand.items():
        kind = group[0].value_type
        if kind in _ORDERED_TYPES:
            why = _ordered(name, kind, group)
        elif kind in _EQUALITY_TYPES:
            why = _equality(name, group)
        else:
            why = None
        if why is not None:
            return why
    return None


def _key(kind: str, value: Any) -> Any:
    return _RANK[value] if kind == "level" else value


def _ordered(name: str, kind: str, group: list[Constraint]) -> str | None:
    low: tuple[Any, bool] | None = None  # (value, inclusive)
    high: tuple[Any, bool] | None = None
    if kind == "count":
        low = (1, True)  # the requested use is at least the first one
    elif kind == "duration":
        low = (timedelta(0), True)
    equal: set[Any] = set()
    unequal: set[Any] = set()
    for c in group:
        if c.operator in ("isAnyOf", "isNoneOf"):
            continue
        value = _key(kind, c.right_operand)
        discrete = kind in ("count", "level")  # integers and ranks: x > 1 means x >= 2
        if c.operator in ("gt", "gteq"):
            bound = (
                (value + 1, True)
                if discrete and c.operator == "gt"
                else (value, c.operator == "gteq")
            )
            if low is None or bound[0] > low[0] or (bound[0] == low[0] and not bound[1]):
                low = bound
        elif c.operator in ("lt", "lteq"):
            bound = (
                (value - 1, True)
                if discrete and c.operator == "lt"
                else (value, c.operator == "lteq")
            )
            if high is None or bound[0] < high[0] or (bound[0] == high[0] and not bound[1]):
                high = bound
        elif c.operator == "eq":
            equal.add(value)
        elif c.operator == "neq":
            unequal.add(value)
    if len(equal) > 1:
        return f"{name} cannot equal several values"
    if (
        low is not None
        and high is not None
        and (low[0] > high[0] or (low[0] == high[0] and not (low[1] and high[1])))
    ):
        return f"no {name} is both above {_show(low[0])} and below {_show(high[0])}"
    for value in equal:
        if value in unequal:
            return f"{name} must and must not equal {_show(value)}"
        if low is not None and (value < low[0] or (value == low[0] and not low[1])):
            return f"{name} eq {_show(value)} is below the lower bound {_show(low[0])}"
        if high is not None and (value > high[0] or (value == high[0] and not high[1])):
            return f"{name} eq {_show(value)} is above the upper bound {_show(high[0])}"
    return None


def _equality(name: str, group: list[Constraint]) -> str | None:
    allowed: set[Any] | None = None
    refused: set[Any] = set()
    for c in group:
        if c.operator in ("eq", "isA"):
            values = {c.right_operand}
        elif c.operator in ("isAnyOf", "isPartOf"):
            values = set(c.right_operand)
        elif c.operator in ("neq",):
            refused.add(c.right_operand)
            continue
        elif c.operator == "isNoneOf":
            refused |= set(c.right_operand)
            continue
        else:
            continue
        allowed = values if allowed is None else allowed & values
    if allowed is not None and not (allowed - refused):
        return f"no value of {name} satisfies all its constraints"
    return None


def _show(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
