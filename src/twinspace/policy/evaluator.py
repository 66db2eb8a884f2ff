"""The reference semantics: walk the model for one request and explain every step.

Constraints are three-valued. A constraint is satisfied, unsatisfied, unknown (no fact, or a fact
of the wrong type) or deferred (its left operand is not due at this moment and no fact was given).
How each counts depends on what it guards, always failing closed:

=============  =========  ===========  ==============================
status         permission prohibition  duty activation
=============  =========  ===========  ==============================
satisfied      true       true         true
unsatisfied    false      false        false
unknown        unknown    unknown      unknown
deferred       true       false        unknown
=============  =========  ===========  ==============================

A permission applies only when its action covers the request's, its parties/target match and its
constraints and refinements are *true*; a prohibition applies unless they are *false* (unknown
means it may apply, so it does). A duty is active unless its constraints are *false*. Logical
constraints combine with Kleene's three-valued logic.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any, Literal

from .decision import FULFILLED, Decision, Reason, ReasonKind, Request
from .model import AnyConstraint, Constraint, Duty, LogicalConstraint, Policy, Rule
from .operands import MOMENTS, Moment
from .operators import holds
from .parser import is_deadline, parse_policy
from .values import FactTypeError, coerce_fact, to_json
from .vocabulary import ACTIONS, action_name

Mode = Literal["grant", "restrict", "duty"]
Tri = bool | None
USE_MOMENTS: frozenset[Moment] = frozenset({"transfer", "access"})
_MISSING: Any = object()


class Status(Enum):
    SATISFIED = "satisfied"
    UNSATISFIED = "unsatisfied"
    UNKNOWN = "unknown"
    DEFERRED = "deferred"


_TRI: dict[Mode, dict[Status, Tri]] = {
    "grant": {Status.SATISFIED: True, Status.UNSATISFIED: False, Status.UNKNOWN: None,
              Status.DEFERRED: True},
    "restrict": {Status.SATISFIED: True, Status.UNSATISFIED: False, Status.UNKNOWN: None,
                 Status.DEFERRED: False},
    "duty": {Status.SATISFIED: True, Status.UNSATISFIED: False, Status.UNKNOWN: None,
             Status.DEFERRED: None},
}  # fmt: skip


def check(item: Constraint, facts: Mapping[str, Any], moment: Moment) -> tuple[Status, Any, str]:
    """(status, the fact used as JSON, message) of one atomic constraint."""
    name = item.left_operand
    raw = facts.get(name, _MISSING)
    if raw is _MISSING or raw is None:
        if moment not in item.moments:
            due = ", ".join(
                m for m in ("catalog", "negotiation", "transfer", "access") if m in item.moments
            )
            return Status.DEFERRED, None, f"{name} is checked at {due}, not at {moment}"
        return Status.UNKNOWN, None, f"no value for {name}"
    try:
        fact = coerce_fact(item.value_type, raw)
    except FactTypeError as exc:
        return Status.UNKNOWN, to_json(raw), f"{name}: {exc}"
    unit = fact[1] if isinstance(fact, tuple) else None  # a number with its unit
    if item.unit is not None and unit is not None and unit != item.unit:
        return Status.UNKNOWN, to_json(raw), f"{name} is in {unit}, the constraint in {item.unit}"
    shown = to_json(raw)
    right = item.right_raw
    if item.value_type == "count":
        name = f"count (this would be use #{fact + 1})"
    if holds(item.value_type, item.operator, fact, item.right_operand):
        return Status.SATISFIED, shown, f"{name} {shown!r} {item.operator} {right!r} holds"
    return Status.UNSATISFIED, shown, f"{name} {shown!r} is not {item.operator} {right!r}"


def combine(operator: str, values: list[Tri]) -> Tri:
    """Kleene three-valued and / or / xone (andSequence = and)."""
    if operator in ("and", "andSequence"):
        if False in values:
            return False
        return None if None in values else True
    if operator == "or":
        if True in values:
            return True
        return None if None in values else False
    trues = values.count(True)
    if trues > 1:
        return False
    if None in values:
        return None
    return trues == 1


class _Walk:
    """One evaluation: the request, and the reasons collected (None: no reasons wanted)."""

    def __init__(self, request: Request, reasons: list[Reason] | None) -> None:
        self.request = request
        self.facts = request.facts
        self.moment = request.moment
        self.reasons = reasons

    def note(self, reason: Reason) -> None:
        if self.reasons is not None:
            self.reasons.append(reason)

    def tri(
        self, item: AnyConstraint, mode: Mode, rule: str, kind: ReasonKind,
        facts: Mapping[str, Any] | None = None,
    ) -> Tri:  # fmt: skip
        facts = self.facts if facts is None else facts
        if isinstance(item, LogicalConstraint):
            values: list[Tri] = []
            for child in item.constraints:
                values.append(self.tri(child, mode, rule, kind, facts))
                if item.operator == "andSequence" and values[-1] is not True:
                    break
            result = combine(item.operator, values)
            self.note(Reason(rule, kind, f"{item.operator} of {len(item.constraints)} constraints "
                             f"is {_word(result)}", constraint=item.path, operator=item.operator,
                             satisfied=result))  # fmt: skip
            return result
        status, value, message = check(item, facts, self.moment)
        result = _TRI[mode][status]
        if self.reasons is not None:
            self.note(Reason(rule, kind, message, constraint=item.path,
                             left_operand=item.left_operand, operator=item.operator,
                             right_operand=item.right_raw, value=value,
                             satisfied=None if status is Status.DEFERRED else result))  # fmt: skip
        return result

    def all(
        self, items: tuple[AnyConstraint, ...], mode: Mode, rule: str, kind: ReasonKind,
        facts: Mapping[str, Any] | None = None,
    ) -> Tri:  # fmt: skip
        return combine("and", [self.tri(item, mode, rule, kind, facts) for item in items])

    def rule(self, policy: Policy, rule: Rule, action: str) -> Tri:
        kind: ReasonKind = rule.kind
        covered = action in ACTIONS[rule.action].includes or (
            kind == "prohibition" and rule.action in ACTIONS[action].includes
        )
        if not covered:
            self.note(Reason(rule.path, kind, f"{rule.path} is about {rule.action}, not {action}",
                             satisfied=False))  # fmt: skip
            return False
        for field, mine, asked in (
            ("target", rule.target or policy.target, self.request.target),
            ("assignee", rule.assignee or policy.assignee, self.request.assignee),
        ):
            if mine is not None and asked is not None and mine != asked:
                self.note(Reason(rule.path, kind, f"{rule.path} is for {field} {mine}, not {asked}",
                                 satisfied=False))  # fmt: skip
                return False
        mode: Mode = "grant" if kind == "permission" else "restrict"
        return self.all(rule.refinements + rule.constraints, mode, rule.path, kind)

    def duty(self, duty: Duty, kind: ReasonKind) -> str:
        """``inactive`` | ``fulfilled`` | ``unfulfilled`` (a due pre-condition) | ``carry``."""
        timing = ACTIONS[duty.action].duty
        conditions = tuple(c for c in duty.constraints if timing == "pre" or not is_deadline(c))
        if self.all(conditions, "duty", duty.path, kind) is False:
            self.note(Reason(duty.path, kind, f"{duty.action} duty is not active", satisfied=None))
            return "inactive"
        if self.fulfilled(duty, kind):
            self.note(Reason(duty.path, kind, f"{duty.action} duty is fulfilled", satisfied=True))
            return "fulfilled"
        if timing == "pre" and kind == "duty" and self.moment in USE_MOMENTS:
            self.note(Reason(duty.path, kind, f"{duty.action} duty (a pre-condition) is not "
                             "fulfilled", satisfied=False))  # fmt: skip
            return "unfulfilled"
        self.note(Reason(duty.path, kind, f"{duty.action} duty is to be carried out",
                         satisfied=None))  # fmt: skip
        return "carry"

    def fulfilled(self, duty: Duty, kind: ReasonKind) -> bool:
        done = self.facts.get(FULFILLED)
        if done is None:
            return False
        keys = [k for k in (duty.id, duty.path, duty.action) if k]
        if isinstance(done, Mapping):
            for key in keys:
                if key in done:
                    performance = done[key]
                    facts = (
                        {**self.facts, **performance}
                        if isinstance(performance, Mapping)
                        else self.facts
                    )
                    return self.all(duty.refinements, "duty", duty.path, kind, facts) is True
            return False
        if isinstance(done, set | frozenset | list | tuple):
            return any(key in done for key in keys)
        return False


def constraint_tri(
    item: AnyConstraint, facts: Mapping[str, Any], moment: Moment, mode: Mode
) -> Tri:
    """The three-valued result of one (possibly logical) constraint, without reasons."""
    return _Walk(Request("use", moment, facts), None).tri(item, mode, "", "permission")


def _word(value: Tri) -> str:
    return {True: "satisfied", False: "not satisfied", None: "unknown"}[value]


def decide(policy: Policy, request: Request, *, explain: bool = True) -> Decision:
    """The decision for ``request`` under ``policy`` (the interpreted, reference path)."""
    reasons: list[Reason] | None = [] if explain else None
    walk = _Walk(request, reasons)
    action = action_name(request.action)
    if request.moment not in MOMENTS:
        walk.note(Reason("policy", "policy", f"unknown moment {request.moment!r}", satisfied=False))
        return Decision(False, tuple(reasons or ()))
    if action is None:
        walk.note(Reason("policy", "policy", f"unknown action {request.action!r}", satisfied=False))
        return Decision(False, tuple(reasons or ()))
    allowing: tuple[Rule, list[Duty]] | None = None
    for rule in policy.permissions:
        if walk.rule(policy, rule, action) is not True:
            continue
        carried: list[Duty] = []
        blocked = False
        for duty in rule.duties:
            state = walk.duty(duty, "duty")
            blocked = blocked or state == "unfulfilled"
            if state == "carry":
                carried.append(duty)
        if blocked:
            walk.note(Reason(rule.path, "permission", f"{rule.path} waits for a pre-condition duty",
                             satisfied=False))  # fmt: skip
            continue
        walk.note(Reason(rule.path, "permission", f"{rule.path} allows {action}", satisfied=True))
        allowing = (rule, carried)
        break
    applying = [
        rule for rule in policy.prohibitions if walk.rule(policy, rule, action) is not False
    ]
    for rule in applying:
        walk.note(Reason(rule.path, "prohibition", f"{rule.path} forbids {action}", satisfied=True))
    remedies = tuple(duty for rule in applying for duty in rule.remedies)
    if allowing is None:
        walk.note(Reason("policy", "policy", f"no permission allows {action}", satisfied=False))
        return Decision(False, tuple(reasons or ()), remedies=remedies)
    if applying:
        if policy.conflict == "perm":
            walk.note(Reason("policy", "policy", "a permission and a prohibition both apply; "
                             "conflict=perm lets the permission win", satisfied=True))  # fmt: skip
        else:
            why = (
                "conflict=prohibit lets the prohibition win"
                if policy.conflict == "prohibit"
                else "with conflict=invalid (the ODRL default) the policy is void"
            )
            walk.note(Reason("policy", "policy", f"a permission and a prohibition both apply; {why}",
                             satisfied=False))  # fmt: skip
            return Decision(False, tuple(reasons or ()), remedies=remedies)
    duties = list(allowing[1])
    for obligation in policy.obligations:
        if walk.duty(obligation, "obligation") == "carry":
            duties.append(obligation)
    return Decision(True, tuple(reasons or ()), tuple(duties))


def evaluate(doc_or_policy: Mapping[str, Any] | Policy, request: Request) -> Decision:
    """Parse (when given JSON) and walk the model: the interpreted path, with every reason."""
    policy = doc_or_policy if isinstance(doc_or_policy, Policy) else parse_policy(doc_or_policy)
    return decide(policy, request)
