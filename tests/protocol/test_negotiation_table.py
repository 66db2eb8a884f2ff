"""The contract negotiation table, row by row, against the DSP 2025-1 state machine diagram."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypedDict

import pytest

from twinspace.protocol import messages
from twinspace.protocol.machine import START, IllegalTransition, Refused, Role
from twinspace.protocol.negotiation import CN, NEGOTIATION, CNMessage, negotiation_kind

C, P = Role.CONSUMER, Role.PROVIDER

# The official diagram, transcribed verbatim from the Dataspace Protocol 2025-1 sources
# (specifications/negotiation/figures/contract.negotiation.state.machine.puml,
# eclipse-dataspace-protocol-base/DataspaceProtocol, Apache License 2.0).
SPEC_DIAGRAM = """
@startuml "contract-negotiation-state-machine"
!pragma layout smetana

!include ../../common/style/diagram.styles.puml

hide empty description

state REQUESTED: <color:$darkGray>ContractRequestMessage
state OFFERED: <color:$darkGray>ContractOfferMessage
state ACCEPTED: <color:$darkGray>ContractNegotiationEventMessage:accepted
state AGREED: <color:$darkGray>ContractAgreementMessage
state VERIFIED: <color:$darkGray>ContractAgreementVerificationMessage
state FINALIZED: <color:$darkGray>ContractNegotiationEventMessage:finalized

state TERMINATED $lightRed #$borderRed:  <color:$darkGray>ContractNegotiationTerminationMessage

[*] --> REQUESTED: C
REQUESTED -->  OFFERED: P
REQUESTED -->  AGREED: P
REQUESTED --> TERMINATED: C/P

[*] --> OFFERED: P
OFFERED -->  REQUESTED: C
OFFERED -->  ACCEPTED: C
OFFERED -->  TERMINATED: C/P

ACCEPTED --> AGREED: P
ACCEPTED -> TERMINATED: P

AGREED --> VERIFIED: C
AGREED --> TERMINATED: C

VERIFIED --> FINALIZED: P
VERIFIED -> TERMINATED: P

FINALIZED -->[*]
TERMINATED --> [*]

@enduml
"""

# Every legal transition, written out independently of the implementation (h11 style):
# (sender, state, message kind) -> next state.
ROWS: list[tuple[Role, str, str, str]] = [
    (C, START, "ContractRequestMessage", "REQUESTED"),
    (P, START, "ContractOfferMessage", "OFFERED"),
    (P, "REQUESTED", "ContractOfferMessage", "OFFERED"),
    (P, "REQUESTED", "ContractAgreementMessage", "AGREED"),
    (C, "REQUESTED", "ContractNegotiationTerminationMessage", "TERMINATED"),
    (P, "REQUESTED", "ContractNegotiationTerminationMessage", "TERMINATED"),
    (C, "OFFERED", "ContractRequestMessage", "REQUESTED"),
    (C, "OFFERED", "ContractNegotiationEventMessage:ACCEPTED", "ACCEPTED"),
    (C, "OFFERED", "ContractNegotiationTerminationMessage", "TERMINATED"),
    (P, "OFFERED", "ContractNegotiationTerminationMessage", "TERMINATED"),
    (P, "ACCEPTED", "ContractAgreementMessage", "AGREED"),
    (P, "ACCEPTED", "ContractNegotiationTerminationMessage", "TERMINATED"),
    (C, "AGREED", "ContractAgreementVerificationMessage", "VERIFIED"),
    (C, "AGREED", "ContractNegotiationTerminationMessage", "TERMINATED"),
    (P, "VERIFIED", "ContractNegotiationEventMessage:FINALIZED", "FINALIZED"),
    (P, "VERIFIED", "ContractNegotiationTerminationMessage", "TERMINATED"),
]
LEGAL = {(role, state, kind) for role, state, kind, _ in ROWS}
ILLEGAL = [t for t in NEGOTIATION.all_triples() if t not in LEGAL]


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


def label_kind(label: str) -> str:
    """The table kind of a diagram label: "…EventMessage:accepted" is the eventType ACCEPTED."""
    message_type, _, event_type = label.partition(":")
    return negotiation_kind({"@type": message_type, "eventType": event_type.upper()})


SPEC = parse_plantuml(SPEC_DIAGRAM)


# --- the table, row by row ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "state", "kind", "target"),
    ROWS,
    ids=[f"{_triple_id(r, s, k)}->{t}" for r, s, k, t in ROWS],
)
def test_row(role: Role, state: str, kind: str, target: str) -> None:
    assert NEGOTIATION.allows(role, state, kind)
    assert NEGOTIATION.next_state(role, state, kind) == target


def test_table_has_exactly_the_rows() -> None:
    actual = {
        (role, state, kind): target for (role, state, kind), target in NEGOTIATION.table.items()
    }
    assert actual == {(role, state, kind): target for role, state, kind, target in ROWS}


@pytest.mark.parametrize(("role", "state", "kind"), ILLEGAL, ids=[_triple_id(*t) for t in ILLEGAL])
def test_every_other_triple_is_illegal(role: Role, state: str, kind: str) -> None:
    assert not NEGOTIATION.allows(role, state, kind)
    with pytest.raises(IllegalTransition) as caught:
        NEGOTIATION.next_state(role, state, kind)
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
        NEGOTIATION.next_state(C, "FINALIZED", "ContractRequestMessage")
    assert str(caught.value) == "consumer may not send ContractRequestMessage in state FINALIZED"
    with pytest.raises(IllegalTransition) as caught:
        NEGOTIATION.next_state(P, START, "ContractRequestMessage")
    assert (
        str(caught.value) == "provider may not send ContractRequestMessage before a process exists"
    )


def test_all_triples_covers_every_role_state_and_kind_once() -> None:
    triples = list(NEGOTIATION.all_triples())
    assert len(triples) == len(set(triples)) == 2 * (1 + 7) * 7
    assert set(triples) >= LEGAL
    assert len(ILLEGAL) == len(triples) - len(ROWS)


def test_states_and_kinds() -> None:
    assert NEGOTIATION.states == (
        "REQUESTED",
        "OFFERED",
        "ACCEPTED",
        "AGREED",
        "VERIFIED",
        "FINALIZED",
        "TERMINATED",
    )
    assert set(NEGOTIATION.kinds) == {kind for _, _, kind, _ in ROWS}
    assert NEGOTIATION.terminal == {"FINALIZED", "TERMINATED"}


def test_terminal_states_have_no_outgoing_rows() -> None:
    for (_role, state, _kind), _target in NEGOTIATION.table.items():
        assert state not in NEGOTIATION.terminal
    for state in NEGOTIATION.terminal:
        for role in Role:
            for kind in NEGOTIATION.kinds:
                assert not NEGOTIATION.allows(role, state, kind)


def test_every_state_is_reachable_and_nothing_returns_to_start() -> None:
    targets = set(NEGOTIATION.table.values())
    assert targets == set(NEGOTIATION.states)
    assert START not in targets


# --- the spec's diagram ------------------------------------------------------------------------


def test_table_equals_spec_diagram() -> None:
    assert len(SPEC.edges) == 14  # every arrow of the diagram was read
    assert NEGOTIATION.edges() == SPEC.edges


def test_terminal_states_equal_spec_diagram() -> None:
    assert NEGOTIATION.terminal == SPEC.terminal


def test_every_state_has_a_label_in_the_spec_diagram() -> None:
    assert set(SPEC.labels) == set(NEGOTIATION.states)


def test_each_row_sends_the_message_its_target_is_labelled_with() -> None:
    # In the spec's diagram each state is labelled with the message that leads into it.
    for (_role, _state, kind), target in NEGOTIATION.table.items():
        assert kind == label_kind(SPEC.labels[target]), target


def test_the_diagram_reader_normalises_senders() -> None:
    diagram = parse_plantuml("A --> B: P/C\nB -> C: C\nC -->[*]")
    assert diagram.edges == {("A", "B", "C/P"), ("B", "C", "C")}
    assert diagram.terminal == {"C"}
    with pytest.raises(AssertionError):
        parse_plantuml("A ~~> B: C")


# --- negotiation_kind ------------------------------------------------------------------------


class Pids(TypedDict):
    provider_pid: str
    consumer_pid: str


PIDS = Pids(provider_pid="urn:uuid:provider-1", consumer_pid="urn:uuid:consumer-1")
OFFER = {
    "@type": "Offer",
    "@id": "urn:uuid:offer-1",
    "target": "urn:uuid:ds-1",
    "permission": [{"action": "use"}],
}


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (
            messages.contract_request(
                consumer_pid="urn:uuid:consumer-1",
                offer=OFFER,
                callback_address="https://c.example/cb",
            ),
            CNMessage.REQUEST,
        ),
        (messages.contract_offer(offer=OFFER, **PIDS), CNMessage.OFFER),
        (
            messages.contract_agreement(agreement={"@type": "Agreement"}, **PIDS),
            CNMessage.AGREEMENT,
        ),
        (messages.agreement_verification(**PIDS), CNMessage.VERIFICATION),
        (messages.negotiation_event(event_type="ACCEPTED", **PIDS), CNMessage.ACCEPTED),
        (messages.negotiation_event(event_type="FINALIZED", **PIDS), CNMessage.FINALIZED),
        (messages.negotiation_termination(**PIDS), CNMessage.TERMINATION),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_negotiation_kind(message: dict[str, object], kind: str) -> None:
    assert negotiation_kind(message) == kind
    assert kind in NEGOTIATION.kinds


def test_negotiation_kind_of_odd_messages() -> None:
    assert negotiation_kind({}) == ""
    assert negotiation_kind({"@type": "ContractNegotiationEventMessage"}) == (
        "ContractNegotiationEventMessage:"
    )
    # Neither is a kind the table knows, so the machine refuses them.
    odds: list[dict[str, object]] = [
        {},
        {"@type": "ContractNegotiationEventMessage", "eventType": "accepted"},
    ]
    for odd in odds:
        with pytest.raises(IllegalTransition):
            NEGOTIATION.next_state(P, CN.VERIFIED, negotiation_kind(odd))


# --- whole negotiations --------------------------------------------------------------------------


def run(steps: list[tuple[Role, str]]) -> str:
    state = START
    for role, kind in steps:
        state = NEGOTIATION.next_state(role, state, kind)
    return state


def test_consumer_initiated_negotiation() -> None:
    assert (
        run(
            [
                (C, CNMessage.REQUEST),
                (P, CNMessage.OFFER),
                (C, CNMessage.REQUEST),
                (P, CNMessage.OFFER),
                (C, CNMessage.ACCEPTED),
                (P, CNMessage.AGREEMENT),
                (C, CNMessage.VERIFICATION),
                (P, CNMessage.FINALIZED),
            ]
        )
        == CN.FINALIZED
    )


def test_provider_initiated_negotiation_and_direct_agreement() -> None:
    assert (
        run([(P, CNMessage.OFFER), (C, CNMessage.REQUEST), (P, CNMessage.AGREEMENT)]) == CN.AGREED
    )


def test_terminated_negotiation_stays_terminated() -> None:
    assert run([(C, CNMessage.REQUEST), (C, CNMessage.TERMINATION)]) == CN.TERMINATED
    with pytest.raises(IllegalTransition):
        run([(C, CNMessage.REQUEST), (C, CNMessage.TERMINATION), (P, CNMessage.TERMINATION)])


def test_role_other() -> None:
    assert C.other is P
    assert P.other is C
