"""docs/state-machines.md is exactly what scripts/gen-diagrams generates from the tables."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path
from types import ModuleType

import pytest

from twinspace.protocol.machine import StateMachine
from twinspace.protocol.negotiation import NEGOTIATION
from twinspace.protocol.transfer import TRANSFER

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gen-diagrams"
DOC = REPO / "docs" / "state-machines.md"

# A transition line of a Mermaid state diagram; its label may hold no ':', ';' or '#'.
_MERMAID_EDGE = re.compile(r"^    (\[\*\]|\w+) --> (\[\*\]|\w+)(?:: ([^:;#\n]+))?$")


def load_script() -> ModuleType:
    loader = SourceFileLoader("gen_diagrams", str(SCRIPT))
    spec = spec_from_loader("gen_diagrams", loader)
    assert spec is not None
    module = module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_committed_doc_is_up_to_date() -> None:
    generated: str = load_script().render()
    assert DOC.read_text(encoding="utf-8") == generated, (
        "docs/state-machines.md is out of date: run scripts/gen-diagrams"
    )


def test_script_is_executable_and_checks() -> None:
    assert os.access(SCRIPT, os.X_OK)
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("machine", [NEGOTIATION, TRANSFER], ids=lambda m: m.name)
def test_doc_holds_each_machines_mermaid_diagram(machine: StateMachine) -> None:
    assert f"```mermaid\n{machine.mermaid()}\n```" in DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize("machine", [NEGOTIATION, TRANSFER], ids=lambda m: m.name)
def test_mermaid_diagram_draws_every_row_and_parses(machine: StateMachine) -> None:
    first, *lines = machine.mermaid().splitlines()
    assert first == "stateDiagram-v2"
    drawn: set[tuple[str, str, str]] = set()
    ends: set[str] = set()
    for line in lines:
        m = _MERMAID_EDGE.match(line)
        assert m, f"Mermaid would not read {line!r} as one transition"
        src, dst, label = m.groups()
        if dst == "[*]":
            assert label is None
            ends.add(src)
        else:
            assert label is not None
            who, kind = label.split(" ", 1)
            drawn.add((src, dst, f"{who} {kind}"))
    assert ends == machine.terminal
    assert drawn == {
        (state, target, f"{role.value[0]} {kind.replace(':', ' ')}")
        for (role, state, kind), target in machine.table.items()
    }
