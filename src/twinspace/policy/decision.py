"""What is asked (:class:`Request`) and what is answered (:class:`Decision` with its reasons)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .model import AnyConstraint, Constraint, Duty, LogicalConstraint
from .operands import Moment
from .values import to_json

#: Reserved fact: which pre-condition duties were fulfilled. Either a collection of duty ids,
#: paths (``permission[0].duty[0]``) or action names (the caller vouches for them), or a mapping
#: from those to the facts of the performance, which must satisfy the duty action's refinements
#: (e.g. ``{"http://example.com/condition/1": {"payAmount": Decimal("5.00")}}``).
FULFILLED = "fulfilled"

ReasonKind = Literal["permission", "prohibition", "obligation", "duty", "policy"]


@dataclass(frozen=True)
class Request:
    """One question: may ``assignee`` perform ``action`` on ``target`` at ``moment``, given ``facts``?

    ``facts`` are keyed by the left operand's short name (``dateTime``, ``purpose``, ...). ``None``
    for ``assignee``/``target`` means the caller does not ask the engine to match them.
    """

    action: str
    moment: Moment
    facts: Mapping[str, Any] = field(default_factory=dict)
    assignee: str | None = None
    target: str | None = None


@dataclass(frozen=True)
class Reason:
    """One step of a decision: a rule matched or not, a constraint held or not, a duty pending.

    ``satisfied`` is True/False, or None when unknown (a fact is missing or mistyped) or
    deferred (the left operand is checked at another moment); ``message`` says which.
    """

    rule: str
    kind: ReasonKind
    message: str
    constraint: str | None = None
    left_operand: str | None = None
    operator: str | None = None
    right_operand: Any = None
    value: Any = None
    satisfied: bool | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "kind": self.kind}
        if self.constraint is not None:
            out.update(
                constraint=self.constraint,
                leftOperand=self.left_operand,
                operator=self.operator,
                rightOperand=self.right_operand,
                value=self.value,
            )
        out.update(satisfied=self.satisfied, message=self.message)
        return out


@dataclass(frozen=True)
class Decision:
    """The answer. ``duties`` are what the caller must carry out when ``allowed`` (the allowing
    permission's duties that are active and not yet fulfilled, and active obligations);
    ``remedies`` are the remedies of prohibitions that applied."""

    allowed: bool
    reasons: tuple[Reason, ...] = ()
    duties: tuple[Duty, ...] = ()
    remedies: tuple[Duty, ...] = ()

    def explain(self) -> dict[str, Any]:
        """The decision as JSON: allowed, reasons, duties, remedies."""
        return {
            "allowed": self.allowed,
            "reasons": [reason.to_json() for reason in self.reasons],
            "duties": [duty_json(duty) for duty in self.duties],
            "remedies": [duty_json(duty) for duty in self.remedies],
        }


def constraint_json(item: AnyConstraint) -> dict[str, Any]:
    if isinstance(item, LogicalConstraint):
        return {item.operator: [constraint_json(c) for c in item.constraints]}
    assert isinstance(item, Constraint)
    out: dict[str, Any] = {
        "leftOperand": item.left_operand,
        "operator": item.operator,
        "rightOperand": item.right_raw,
    }
    if item.unit is not None:
        out["unit"] = item.unit
    return out


def duty_json(duty: Duty) -> dict[str, Any]:
    out: dict[str, Any] = {"action": duty.action, "path": duty.path, "kind": duty.kind}
    if duty.id is not None:
        out["@id"] = duty.id
    if duty.parameters:
        out["parameters"] = to_json(duty.parameters)
    if duty.constraints:
        out["constraint"] = [constraint_json(c) for c in duty.constraints]
    if duty.refinements:
        out["refinement"] = [constraint_json(c) for c in duty.refinements]
    if duty.consequences:
        out["consequence"] = [duty_json(d) for d in duty.consequences]
    return out
