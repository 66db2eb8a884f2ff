"""The transfer process table, row by row, against the DSP 2025-1 state machine diagram."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from twinspace.protocol.machine import START, IllegalTransition, Refused, Role
from twinspace.protocol.transfer import TP, TRANSFER, TPMessage

C, P = Role.CONSUMER, Role.PROVIDER

# The official diagram, transcribed verbatim from the Dataspace Protocol 2025-1 sources
# (specifications/transfer/figures/transfer-process-state-machine.puml,
# eclipse-dataspace-protocol-base/DataspaceProtocol, Apache License 2.0).
SPEC_DIAGRAM = """
@startuml "transfer-process-state-machine"
!pragma layout smetana

!include ../../common/style/diagram.styles.puml

hide empty description

state REQUESTED: <color:$darkGray>TransferRequestMessage
state STARTED: <color:$darkGray>TransferStartMessage
state COMPLETED: <color:$darkGray>TransferCompletionMessage
state SUSPENDED: <color:$darkGray>TransferSuspensionMessage

state TERMINATED $lightRed #$borderRed : <color:$darkGray>TransferTerminationMessage

[*] --> REQUESTED: C
REQUESTED -->  STARTED: P
REQUESTED -->  TERMINATED: C/P

STARTED -->  COMPLETED: P/C
STARTED -->  SUSPENDED: P/C
STARTED -->  TERMINATED: P/C

SUSPENDED --> STARTED: P/C
SUSPENDED --> TERMINATED: P/C

COMPLETED -->[*]
TERMINATED --> [*]

@enduml
"""

# Every legal transition, written out independently of the implementation (h11 style):
# (sender, state, message kind) -> next state.
ROWS: list[tuple[Role, str, str, str]] = [
    (C, START, "TransferRequestMessage", "REQUESTED"),
    (P, "REQUESTED", "TransferStartMessage", "STARTED"),
    (C, "REQUESTED", "TransferTerminationMessage", "TERMINATED"),
    (P, "REQUESTED", "TransferTerminationMessage", "TERMINATED"),
    (C, "STARTED", "TransferCompletionMessage", "COMPLETED"),
    (P, "STARTED", "TransferCompletionMessage", "COMPLETED"),
    (C, "STARTED", "TransferSuspensionMessage", "SUSPENDED"),
    (P, "STARTED", "TransferSuspensionMessage", "SUSPENDED"),
    (C, "STARTED", "TransferTerminationMessage", "TERMINATED"),
    (P, "STARTED", "TransferTerminationMessage", "TERMINATED"),
    (C, "SUSPENDED", "TransferStartMessage", "STARTED"),
    (P, "SUSPENDED", "TransferStartMessage", "STARTED"),
    (C, "SUSPENDED", "TransferTerminationMessage", "TERMINATED"),
    (P, "SUSPENDED", "TransferTerminationMessage", "TERMINATED"),
]
LEGAL = {(role, state, kind) for role, state, kind, _ in ROWS}
ILLEGAL = [t for t in TRANSFER.all_triples() if t not in LEGAL]


def _triple_id(role: Role, state: str, kind: str) -> str:
    return f"{role.value[0]}|{state}|{kind}"


# --- a small reader for the PlantUML state diagrams of the spec -------------------------------

_IGNORED = ("@startuml", "@enduml", "!pragma", "!include", "hide ")
_STATE = re.compile(r"^state\s+(?P<name>\w+)\b[^:]*:\s*(?:<color:\$\w+>)?(?P<label>\S+)$")
_EDGE = re.compile(
    r"^(?P<src>\[\*\]|\w+)\s*-+>\s*(?P<dst>\[\*\]|\w+)(?:\s*:\s*(?P<who>[CP](?:/[CP])?))?$"
)


@dataclass
class Diagram:
    edges: set[tuple[str, str, str]] = field(default_factory=set)
    labels: dict[str, str] = field(default_factory=dict)
    terminal: set[str] = field(default_factory=set)


def parse_plantuml(text: str) -> Diagram:
    """Edges (from, to, senders), state labels and terminal states of a spec diagram.

    Senders are normalised ("P/C" == "C/P"); any line not understood is an error, so a slip in
    the transcription cannot go unnoticed.
    """
    diagram = Diagram()
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(_IGNORED):
            continue
        if m := _STATE.match(line):
            diagram.labels[m["name"]] = m["label"]
        elif m := _EDGE.match(line):
            if m["dst"] == START:
                diagram.terminal.add(m["src"])
            else:
                assert m["who"], f"edge without sender: {line!r}"
                who = "/".join(sorted(m["who"].split("/")))
                diagram.edges.add((m["src"], m["dst"], who))
        else:
            raise AssertionError(f"cannot read diagram line {line!r}")
    return diagram


SPEC = parse_plantuml(SPEC_DIAGRAM)


# --- the table, row by row ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "state", "kind", "target"),
    ROWS,
    ids=[f"{_triple_id(r, s, k)}->{t}" for r, s, k, t in ROWS],
)
def test_row(role: Role, state: str, kind: str, target: str) -> None:
    assert TRANSFER.allows(role, state, kind)
    assert TRANSFER.next_state(role, state, kind) == target


def test_table_has_exactly_the_rows() -> None:
    actual = {(role, state, kind): target for (role, state, kind), target in TRANSFER.table.items()}
    assert actual == {(role, state, kind): target for role, state, kind, target in ROWS}


@pytest.mark.parametrize(("role", "state", "kind"), ILLEGAL, ids=[_triple_id(*t) for t in ILLEGAL])
def test_every_other_triple_is_illegal(role: Role, state: str, kind: str) -> None:
    assert not TRANSFER.allows(role, state, kind)
    with pytest.raises(IllegalTransition) as caught:
        TRANSFER.next_state(role, state, kind)
    assert caught.value.refused == Refused(role, state, kind)
    text = str(caught.value)
    assert role.value.lower() in text
    assert kind in text
    if state == START:
        assert "before a process exists" in text
    else:
        assert f"in state {state}" in text


def test_illegal_transition_message_reads_well() -> None:
    with pytest.raises(IllegalTransition) as caught:
        TRANSFER.next_state(C, "REQUESTED", "TransferStartMessage")
    assert str(caught.value) == "consumer may not send TransferStartMessage in state REQUESTED"
    with pytest.raises(IllegalTransition) as caught:
        TRANSFER.next_state(P, START, "TransferRequestMessage")
    assert (
        str(caught.value) == "provider may not send TransferRequestMessage before a process exists"
    )


def test_all_triples_covers_every_role_state_and_kind_once() -> None:
    triples = list(TRANSFER.all_triples())
    assert len(triples) == len(set(triples)) == 2 * (1 + 5) * 5
    assert set(triples) >= LEGAL
    assert len(ILLEGAL) == len(triples) - len(ROWS)


def test_states_and_kinds() -> None:
    assert set(TRANSFER.states) == {"REQUESTED", "STARTED", "SUSPENDED", "COMPLETED", "TERMINATED"}
    assert set(TRANSFER.kinds) == {kind for _, _, kind, _ in ROWS}
    assert TRANSFER.terminal == {"COMPLETED", "TERMINATED"}


def test_terminal_states_have_no_outgoing_rows() -> None:
    for (_role, state, _kind), _target in TRANSFER.table.items():
        assert state not in TRANSFER.terminal
    for state in TRANSFER.terminal:
        for role in Role:
            for kind in TRANSFER.kinds:
                assert not TRANSFER.allows(role, state, kind)


def test_every_state_is_reachable_and_nothing_returns_to_start() -> None:
    targets = set(TRANSFER.table.values())
    assert targets == set(TRANSFER.states)
    assert START not in targets


# --- the spec's diagram ------------------------------------------------------------------------


def test_table_equals_spec_diagram() -> None:
    assert len(SPEC.edges) == 8  # every arrow of the diagram was read
    assert TRANSFER.edges() == SPEC.edges


def test_terminal_states_equal_spec_diagram() -> None:
    assert TRANSFER.terminal == SPEC.terminal


def test_every_state_has_a_label_in_the_spec_diagram() -> None:
    assert set(SPEC.labels) == set(TRANSFER.states)


def test_each_row_sends_the_message_its_target_is_labelled_with() -> None:
    # In the spec's diagram each state is labelled with the message that leads into it.
    for (_role, _state, kind), target in TRANSFER.table.items():
        assert kind == SPEC.labels[target], target


# --- whole transfers -----------------------------------------------------------------------------


def run(steps: list[tuple[Role, str]]) -> str:
    state = START
    for role, kind in steps:
        state = TRANSFER.next_state(role, state, kind)
    return state


def test_transfer_with_suspension_and_resumption() -> None:
    assert (
        run(
            [
                (C, TPMessage.REQUEST),
                (P, TPMessage.START),
                (C, TPMessage.SUSPENSION),
                (C, TPMessage.START),
                (P, TPMessage.SUSPENSION),
                (P, TPMessage.START),
                (C, TPMessage.COMPLETION),
            ]
        )
        == TP.COMPLETED
    )


def test_only_the_provider_starts_a_requested_transfer() -> None:
    assert run([(C, TPMessage.REQUEST), (P, TPMessage.START)]) == TP.STARTED
    with pytest.raises(IllegalTransition):
        run([(C, TPMessage.REQUEST), (C, TPMessage.START)])


def test_completed_transfer_cannot_be_terminated() -> None:
    with pytest.raises(IllegalTransition):
        run(
            [
                (C, TPMessage.REQUEST),
                (P, TPMessage.START),
                (P, TPMessage.COMPLETION),
                (C, TPMessage.TERMINATION),
            ]
        )
