"""The parsed policy model: frozen dataclasses, every value already typed.

Each element keeps its ``path`` in the document (``permission[0].constraint[1]``) so that errors,
reasons and validation findings point at what the author wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .operands import Moment, ValueType

RuleKind = Literal["permission", "prohibition"]
ConflictStrategy = Literal["perm", "prohibit", "invalid"]
LogicalOperator = Literal["and", "or", "xone", "andSequence"]


@dataclass(frozen=True)
class Constraint:
    """``left_operand operator right_operand``; the right operand parsed to its value type.

    ``right_raw`` is the right operand as written (JSON), for reasons and reports.
    """

    path: str
    left_operand: str
    operator: str
    right_operand: Any
    value_type: ValueType
    moments: frozenset[Moment]
    right_raw: Any = None
    unit: str | None = None
    data_type: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class LogicalConstraint:
    """``and`` / ``or`` / ``xone`` / ``andSequence`` over nested constraints."""

    path: str
    operator: LogicalOperator
    constraints: tuple[Constraint | LogicalConstraint, ...]
    id: str | None = None


AnyConstraint = Constraint | LogicalConstraint


@dataclass(frozen=True)
class Duty:
    """A duty: on a permission, a policy-level obligation, a remedy or a consequence.

    ``constraints`` decide whether the duty is active; ``parameters`` are what the caller needs to
    carry it out (``informedParty``, ``payAmount``/``unit``, ``policy`` for nextPolicy, ``within``
    (timedelta) / ``by`` (datetime) deadlines read from dateTime/elapsedTime constraints, ...).
    """

    action: str
    constraints: tuple[AnyConstraint, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)
    refinements: tuple[AnyConstraint, ...] = ()
    consequences: tuple[Duty, ...] = ()
    path: str = ""
    id: str | None = None
    kind: Literal["duty", "obligation", "remedy", "consequence"] = "duty"


@dataclass(frozen=True)
class Rule:
    """A permission or a prohibition (party and target inherited from the policy)."""

    path: str
    kind: RuleKind
    action: str
    refinements: tuple[AnyConstraint, ...] = ()
    constraints: tuple[AnyConstraint, ...] = ()
    duties: tuple[Duty, ...] = ()
    remedies: tuple[Duty, ...] = ()
    target: str | None = None
    assignee: str | None = None
    assigner: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class Policy:
    """An ODRL policy (Set, Offer or Agreement)."""

    id: str | None
    type: str
    permissions: tuple[Rule, ...] = ()
    prohibitions: tuple[Rule, ...] = ()
    obligations: tuple[Duty, ...] = ()
    conflict: ConflictStrategy = "invalid"
    target: str | None = None
    assigner: str | None = None
    assignee: str | None = None
    profile: tuple[str, ...] = ()

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.permissions + self.prohibitions


def walk(constraints: tuple[AnyConstraint, ...]) -> list[Constraint]:
    """Every atomic constraint under ``constraints`` (depth first)."""
    found: list[Constraint] = []
    for item in constraints:
        if isinstance(item, LogicalConstraint):
            found.extend(walk(item.constraints))
        else:
            found.append(item)
    return found
