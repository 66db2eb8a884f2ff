"""Compile a policy once into a fast evaluator; fall back to the reference path for reasons.

For each moment, :func:`compile_policy` generates the source of one Python function that walks
the policy's rules with every right operand pre-parsed, action sets pre-computed and the common
constraint kinds (strings, counts, numbers, datetimes, durations, levels) inlined as plain
comparisons behind exact type guards; other constraints (sets, geometries, logical constraints,
profile operands) call pre-bound closures over the reference checks. The function answers only
"allowed by permission *i*, nothing else to work out" or "ask the reference path": any missing or
unusual fact, any prohibition that may apply, any duty whose state depends on facts, any exception
goes to :func:`~twinspace.policy.evaluator.decide`, which produces the decision with every reason.
So the fast path can only ever agree with the reference path; it is just quicker when it can.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from .decision import FULFILLED, Decision, Reason, Request
from .evaluator import USE_MOMENTS, Mode, constraint_tri, decide
from .model import AnyConstraint, Constraint, Duty, Policy, Rule
from .operands import MOMENTS, SECURITY_LEVELS, Moment
from .parser import is_deadline
from .vocabulary import ACTIONS, spellings

FastPath = Callable[[str, Mapping[str, Any], "str | None", "str | None"], int]
_ORDERED = {"eq": "==", "neq": "!=", "lt": "<", "lteq": "<=", "gt": ">", "gteq": ">="}
_RANK = {level: i for i, level in enumerate(SECURITY_LEVELS)}


class CompiledPolicy:
    """A policy compiled for fast decisions; :meth:`evaluate` is the hot path."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._fast: dict[str, FastPath] = {}
        self._allowed: dict[str, tuple[Decision | None, ...]] = {}
        self.sources: dict[str, str] = {}
        for moment in MOMENTS:
            allowed = tuple(_static_decision(policy, rule, moment) for rule in policy.permissions)
            source, namespace = _generate(policy, moment, allowed)
            code = compile(source, f"<policy {policy.id or ''} at {moment}>", "exec")
            exec(code, namespace)
            self._fast[moment] = namespace["fast"]
            self._allowed[moment] = allowed
            self.sources[moment] = source

    def evaluate(self, request: Request, *, explain: bool = False) -> Decision:
        """The decision for ``request``; with ``explain`` (and on every denial) all reasons."""
        if not explain:
            fast = self._fast.get(request.moment)
            if fast is not None:
                index = fast(request.action, request.facts, request.assignee, request.target)
                if index >= 0:
                    decision = self._allowed[request.moment][index]
                    if decision is not None:
                        return decision
        return decide(self.policy, request)


def compile_policy(policy: Policy) -> CompiledPolicy:
    """Build the fast evaluator for ``policy`` (do it once per agreement)."""
    return CompiledPolicy(policy)


def _conditions(duty: Duty) -> tuple[AnyConstraint, ...]:
    timing = ACTIONS[duty.action].duty
    return tuple(c for c in duty.constraints if timing == "pre" or not is_deadline(c))


def _static_carry(duty: Duty, moment: Moment, obligation: bool) -> bool:
    """The duty is carried whatever the facts (no conditions, not a due pre-condition)."""
    if _conditions(duty):
        return False
    return obligation or not (ACTIONS[duty.action].duty == "pre" and moment in USE_MOMENTS)


def _static_decision(policy: Policy, rule: Rule, moment: Moment) -> Decision | None:
    """The allowed decision by ``rule`` when it does not depend on facts, else None."""
    if not all(_static_carry(d, moment, False) for d in rule.duties):
        return None
    if not all(_static_carry(d, moment, True) for d in policy.obligations):
        return None
    reason = Reason(rule.path, "permission", f"{rule.path} allows the request (compiled path; "
                    "evaluate with explain=True for every reason)", satisfied=True)  # fmt: skip
    return Decision(True, (reason,), rule.duties + policy.obligations)


class _Source:
    def __init__(self, moment: Moment) -> None:
        self.moment = moment
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {
            "M": object(),
            "datetime": datetime,
            "timedelta": timedelta,
            "Decimal": Decimal,
            "RANK": _RANK,
            "NORM": spellings(ACTIONS),
        }

    def const(self, value: Any) -> str:
        name = f"K{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def constraint(self, item: AnyConstraint, mode: Mode, on_false: str, on_unknown: str) -> None:
        inline = _inline(item, self) if isinstance(item, Constraint) else None
        if inline is None:
            check = self.const(
                lambda facts, _item=item, _m=self.moment, _mode=mode: constraint_tri(
                    _item, facts, _m, _mode
                )
            )
            self.emit(2, f"r = {check}(facts)")
            self.emit(2, f"if r is None: {on_unknown}")
            self.emit(2, f"elif r is False: {on_false}")
            return
        assert isinstance(item, Constraint)
        guard, test = inline
        deferred = self.moment not in item.moments
        on_missing = ("pass" if mode == "grant" else on_false) if deferred else on_unknown
        self.emit(2, f"v = get({item.left_operand!r}, M)")
        self.emit(2, f"if v is M or v is None: {on_missing}")
        self.emit(2, f"elif not ({guard}): return -1")
        self.emit(2, f"elif not ({test}): {on_false}")

    def parties(self, policy: Policy, rule: Rule) -> None:
        for var, mine in (("target", rule.target or policy.target),
                          ("assignee", rule.assignee or policy.assignee)):  # fmt: skip
            if mine is not None:
                self.emit(2, f"if {var} is not None and {var} != {self.const(mine)}: break")


def _inline(item: Constraint, src: _Source) -> tuple[str, str] | None:
    """(type guard, test) over ``v`` for the constraint kinds worth inlining, else None."""
    op, vt, right = item.operator, item.value_type, item.right_operand
    if vt in ("string", "party"):
        guard = "v.__class__ is str"
        if op in ("eq", "isA"):
            return guard, f"v == {src.const(right)}"
        if op == "neq":
            return guard, f"v != {src.const(right)}"
        if op in ("isAnyOf", "isPartOf"):
            return guard, f"v in {src.const(right)}"
        if op == "isNoneOf":
            return guard, f"v not in {src.const(right)}"
        return None
    if vt == "count":
        guard = "v.__class__ is int and v >= 0"
        subject = "v + 1"
    elif vt == "number":
        guard = "v.__class__ is int or (v.__class__ is Decimal and v.is_finite())"
        subject = "v"
    elif vt == "dateTime":
        guard, subject = "v.__class__ is datetime and v.tzinfo is not None", "v"
    elif vt == "duration":
        guard, subject = "v.__class__ is timedelta", "v"
    elif vt == "level":
        guard, subject = "v.__class__ is str and v in RANK", "RANK[v]"
        if op in _ORDERED:
            return guard, f"{subject} {_ORDERED[op]} {_RANK[right]}"
        subject = "v"
    else:
        return None
    if op in _ORDERED:
        return guard, f"{subject} {_ORDERED[op]} {src.const(right)}"
    if op == "isAnyOf":
        return guard, f"{subject} in {src.const(right)}"
    if op == "isNoneOf":
        return guard, f"{subject} not in {src.const(right)}"
    return None


def _covered_by_prohibition(rule: Rule) -> frozenset[str]:
    """Request actions a prohibition on ``rule.action`` may apply to."""
    spec = ACTIONS[rule.action]
    return frozenset(a for a in ACTIONS if a in spec.includes or rule.action in ACTIONS[a].includes)


def _generate(
    policy: Policy, moment: Moment, allowed: tuple[Decision | None, ...]
) -> tuple[str, dict[str, Any]]:
    src = _Source(moment)
    src.emit(0, "def fast(action, facts, assignee, target):")
    src.emit(1, "try:")
    src.emit(2, "action = NORM.get(action)")
    src.emit(2, "if action is None: return -1")
    if policy.obligations or any(rule.duties for rule in policy.permissions):
        src.emit(2, f"if {FULFILLED!r} in facts: return -1")
    src.emit(2, "get = facts.get")
    src.emit(1, "except Exception:")
    src.emit(2, "return -1")
    body_start = len(src.lines)
    for rule in policy.prohibitions:
        src.emit(1, "while True:")
        src.emit(2, f"if action not in {src.const(_covered_by_prohibition(rule))}: break")
        src.parties(policy, rule)
        for item in rule.refinements + rule.constraints:
            src.constraint(item, "restrict", on_false="break", on_unknown="pass")
        src.emit(2, "return -1")
    for index, rule in enumerate(policy.permissions):
        src.emit(1, "while True:")
        src.emit(2, f"if action not in {src.const(ACTIONS[rule.action].includes)}: break")
        src.parties(policy, rule)
        for item in rule.refinements + rule.constraints:
            src.constraint(item, "grant", on_false="break", on_unknown="return -1")
        src.emit(2, f"return {index if allowed[index] is not None else -1}")
    src.emit(1, "return -1")
    # every rule block runs inside one try: any exception means "ask the reference path"
    body = ["    " + line for line in src.lines[body_start:]]
    lines = [
        *src.lines[:body_start],
        "    try:",
        *body,
        "    except Exception:",
        "        return -1",
    ]
    return "\n".join(lines) + "\n", src.namespace
