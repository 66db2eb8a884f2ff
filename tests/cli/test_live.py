"""The CLI against two real `twinspace serve` processes: publish, discover, negotiate, pull."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from twinspace.cli import app

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@dataclass
class Served:
    name: str
    port: int
    api_key: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dsp(self) -> str:
        return f"{self.url}/dsp"

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(
            app, ["--connector", self.url, "--api-key", self.api_key, *args], terminal_width=200
        )


def serve(tmp_path: Path, name: str, *extra: str) -> Served:
    port = free_port()
    log = tmp_path / f"{name}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINSPACE_")}
    env["TWINSPACE_MANAGER_INTERVAL"] = "0.02"  # the environment still applies under the options
    env["TWINSPACE_AUTH"] = "none"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "twinspace.cli",
                "serve",
                "--name",
                name,
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path / name),
                "--participant-id",
                f"urn:test:{name}",
                "--api-key",
                f"key-{name}",
                *extra,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    served = Served(name, port, f"key-{name}", process, log)
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"{served.url}/.well-known/dspace-version").status_code == 200:
                return served
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


def stop(served: Served) -> int:
    if served.process.poll() is None:
        served.process.send_signal(signal.SIGTERM)
        try:
            served.process.wait(15)
        except subprocess.TimeoutExpired:
            served.process.kill()
            served.process.wait()
    return served.process.returncode


def test_serve_runs_and_stops_twin_writers(tmp_path: Path) -> None:
    served = serve(tmp_path, "writers", "--twin-writers", "2")
    key = {"X-Api-Key": served.api_key}
    try:
        things = [
            {"id": f"urn:ngsi-ld:Thing:{n}", "type": "Thing", "v": {"type": "Property", "value": n}}
            for n in range(300)
        ]
        url = f"{served.url}/ngsi-ld/v1/entityOperations/upsert"
        assert httpx.post(url, json=things, headers=key, timeout=60).status_code == 201
        writers = httpx.get(f"{served.url}/management/v3/twin", headers=key).json()["writers"]
        assert writers["alive"] == 2 and writers["batches"] == 1 and writers["parts"] == 2
    finally:  # a graceful shutdown; uvicorn then re-raises SIGTERM for the exit status
        assert stop(served) in (0, -signal.SIGTERM), served.log.read_text()
    for pid in writers["pids"]:  # stopped and reaped with the server
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    log = served.log.read_text()
    assert "2 writer processes" in log and "Traceback" not in log


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Served]]:
    tmp_path = tmp_path_factory.mktemp("live")
    provider = serve(tmp_path, "provider")
    try:
        consumer = serve(tmp_path, "consumer")
    except BaseException:
        stop(provider)
        raise
    try:
        yield provider, consumer
    finally:
        codes = {stop(provider), stop(consumer)}
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells the parent why
    assert codes <= {0, -signal.SIGTERM}
    for served in (provider, consumer):
        assert "Application shutdown complete" in served.log.read_text()


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.output


def test_publish_discover_negotiate_pull(pair: tuple[Served, Served], tmp_path: Path) -> None:
    provider, consumer = pair
    data = tmp_path / "counts.csv"
    data.write_bytes(b"time,count\n" + b"".join(b"%d,%d\n" % (i, i * 7) for i in range(5000)))

    ok(provider.cli("asset", "create", "counts", "--file", str(data), "--name", "Counts"))
    ok(provider.cli("offer", "create", "counts"))

    listing = ok(consumer.cli("catalog", provider.dsp))
    assert "counts" in listing and "Counts" in listing

    negotiated = ok(consumer.cli("negotiate", provider.dsp, "counts"))
    assert "FINALIZED" in negotiated
    found = re.search(r"^agreement (\S+)$", negotiated, re.MULTILINE)
    assert found, negotiated
    agreement = found.group(1)

    out = tmp_path / "received" / "counts.csv"
    moved = ok(consumer.cli("transfer", provider.dsp, agreement, "--out", str(out)))
    assert "COMPLETED" in moved
    assert f"{data.stat().st_size:,} bytes" in moved
    assert out.read_bytes() == data.read_bytes()

    pushed = ok(consumer.cli("transfer", provider.dsp, agreement, "--type", "HttpData-PUSH"))
    assert "COMPLETED" in pushed
    assert f"{data.stat().st_size:,} bytes pushed" in pushed

    table = ok(consumer.cli("status"))
    assert "FINALIZED" in table and "COMPLETED" in table


def test_wrong_api_key_against_a_real_connector(pair: tuple[Served, Served]) -> None:
    provider, _ = pair
    result = CliRunner().invoke(app, ["--connector", provider.url, "--api-key", "wrong", "status"])
    assert result.exit_code == 1
    assert "refused the API key" in result.output


def test_negotiating_for_a_missing_dataset(pair: tuple[Served, Served]) -> None:
    provider, consumer = pair
    result = consumer.cli("negotiate", provider.dsp, "nothing-here")
    assert result.exit_code == 1
    assert "no dataset 'nothing-here'" in result.output
