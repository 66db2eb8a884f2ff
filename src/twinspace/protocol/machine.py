"""A state machine as one transition table keyed by (sender role, state, message kind).

Pure: no I/O. Both DSP state machines (contract negotiation, transfer process) are instances.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """The party that sends a message."""

    CONSUMER = "CONSUMER"
    PROVIDER = "PROVIDER"

    @property
    def other(self) -> Role:
        return Role.PROVIDER if self is Role.CONSUMER else Role.CONSUMER


#: The pseudo-state of a process that does not exist yet (``[*]`` in the spec's diagrams).
START = "[*]"


@dataclass(frozen=True)
class Refused:
    """Why a (role, state, message) triple is not a legal transition."""

    role: Role
    state: str
    kind: str

    def __str__(self) -> str:
        where = "before a process exists" if self.state == START else f"in state {self.state}"
        return f"{self.role.value.lower()} may not send {self.kind} {where}"


class IllegalTransition(Exception):
    def __init__(self, refused: Refused) -> None:
        super().__init__(str(refused))
        self.refused = refused


@dataclass(frozen=True)
class StateMachine:
    name: str
    states: tuple[str, ...]
    terminal: frozenset[str]
    kinds: tuple[str, ...]
    table: Mapping[tuple[Role, str, str], str]

    def next_state(self, role: Role, state: str, kind: str) -> str:
        """The state after ``role`` sends ``kind`` in ``state``; raises IllegalTransition."""
        try:
            return self.table[(role, state, kind)]
        except KeyError:
            raise IllegalTransition(Refused(role, state, kind)) from None

    def allows(self, role: Role, state: str, kind: str) -> bool:
        return (role, state, kind) in self.table

    def all_triples(self) -> Iterable[tuple[Role, str, str]]:
        """Every (role, state, kind) triple, legal or not."""
        for role in Role:
            for state in (START, *self.states):
                for kind in self.kinds:
                    yield role, state, kind

    def edges(self) -> set[tuple[str, str, str]]:
        """(from, to, senders) as the spec's diagrams draw them: senders is ``C``, ``P`` or ``C/P``."""
        grouped: dict[tuple[str, str], set[str]] = {}
        for (role, state, _kind), target in self.table.items():
            grouped.setdefault((state, target), set()).add(role.value[0])
        return {(a, b, "/".join(sorted(who))) for (a, b), who in grouped.items()}

    def mermaid(self) -> str:
        """A Mermaid state diagram generated from the table (for the docs)."""
        lines = ["stateDiagram-v2"]
        rows = sorted(self.table.items(), key=lambda r: (self._order(r[0][1]), r[0][2], r[0][0]))
        for (role, state, kind), target in rows:
            src = "[*]" if state == START else state
            # Mermaid ends a transition label at a colon ("…EventMessage:ACCEPTED" would not parse).
            label = kind.replace(":", " ")
            lines.append(f"    {src} --> {target}: {role.value[0]} {label}")
        for state in sorted(self.terminal):
            lines.append(f"    {state} --> [*]")
        return "\n".join(lines)

    def _order(self, state: str) -> int:
        return -1 if state == START else self.states.index(state)
