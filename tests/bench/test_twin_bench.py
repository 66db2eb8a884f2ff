"""Smoke run of ``bench/twin.py``: a real participant on SQLite, tiny counts; it must finish and
print its summary. The figures themselves are never asserted (the machine is noisy)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[2] / "bench" / "twin.py"


def test_twin_bench_quick_run_prints_every_figure() -> None:
    args = ["--quick", "--sqlite", "--batch", "50", "--batches", "2", "--entities", "400"]
    done = subprocess.run(
        [sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    for figure in (
        "upsert 50/batch, 2 writers, creates",
        "upsert 50/batch, 2 writers, updates",
        "upsert 50/batch, no writers, creates",
        "upsert 50/batch, no writers, updates",
        "GET entity, sequential",
        "GET entity, 8 in flight",
        "q + near 2 km",
        "q + within polygon",
        "upsert -> notification",
        "summary",
        "target 5,000 entity upserts/s on sqlite",
        "without writer processes: creates",
    ):
        assert figure in out, out
