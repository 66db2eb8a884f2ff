"""``twinspace demo`` end to end: an authority and three participants as real processes, and
none left afterwards."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.conftest import in_ci

from twinspace.demo.twin import mqtt_reachable

pytestmark = pytest.mark.slow


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_run(length: int = 4) -> int:
    """The first of ``length`` consecutive loopback ports that are all free right now."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20_000, 60_000)
        if all(_free(base + i) for i in range(length)):
            return base
    raise RuntimeError("no run of free ports found")


def serving(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def twinspace_processes(marker: str) -> list[str]:
    """Command lines of live processes that mention ``marker`` (Linux /proc; else none known)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "twinspace" in cmdline and marker in cmdline and int(entry.name) != os.getpid():
            found.append(cmdline)
    return found


def test_demo_runs_and_leaves_nothing_behind(tmp_path: Path) -> None:
    base = free_port_run()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINSPACE_")}
    env["COLUMNS"] = "160"
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "twinspace.cli", "demo", "--base-port", str(base)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output
    assert "agreement" in output
    assert "bytes moved" in output
    assert "SHA-256 verified" in output
    assert "traffic-counts" in output
    assert "all participants stopped" in output
    # the data space's trust: onboarding, credentials, and a revoked member refused
    assert "authority onboarded the city (did:web:127.0.0.1%3A" in output
    assert "holds LegalParticipantCredential and MembershipCredential" in output
    assert "now refuses the mobility operator" in output
    # usage control: the provider counted the use, was notified, explains a refusal
    assert "counted 1 use(s) of traffic-counts, and was notified by the city" in output
    assert "a use for advertising would be refused: purpose 'advertising'" in output
    # traceability: the agreements and transfers are in the log, audited, with proofs
    assert "the city audited the transparency log" in output
    assert "every inclusion proof verified" in output
    # the city twin: sensors over MQTT (Mosquitto runs wherever the tests do), the city
    # subscribed to both providers' twins through the data space, and its picture
    transport = "MQTT" if in_ci() or mqtt_reachable() else "HTTP"
    assert f"sensors reported over {transport}" in output
    assert "city subscribed to the environment agency's twin" in output
    assert "new readings reached the city's twin through the data space" in output
    assert "the city's twin (pushed through the data space)" in output
    for kind in ("TrafficFlowObserved", "AirQualityObserved", "NoiseLevelObserved"):
        assert kind in output
    assert "through 2 NgsiLd-PUSH transfers" in output
    # every process (three participants, the authority) is gone and its port is free again
    ports = [base, base + 1, base + 2, base + 3]
    assert not any(serving(p) for p in ports)
    if Path("/proc/self").exists():
        for port in ports:
            assert twinspace_processes(f"--port {port} ") == []
    # the temporary run directory was removed; nothing was written into the working directory
    assert list(tmp_path.iterdir()) == []
    assert time.monotonic() - began < 180


def test_demo_reports_a_busy_port_clearly(tmp_path: Path) -> None:
    base = free_port_run()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", base + 1))
        blocker.listen()
        result = subprocess.run(
            [sys.executable, "-m", "twinspace.cli", "demo", "--base-port", str(base)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"port {base + 1}" in output
    assert "--base-port" in output
    assert "Traceback" not in output
    assert not any(serving(p) for p in (base, base + 2, base + 3))
