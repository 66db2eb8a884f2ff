"""The demo's participants as real OS processes (``twinspace serve``), started and always stopped."""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from twinspace.cli.client import ManagementClient
from twinspace.identity import did_web_for

HOST = "127.0.0.1"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


def _die_with_parent() -> Callable[[], None] | None:
    """On Linux, a child that gets SIGTERM when the demo dies, even by SIGKILL."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    return preexec


class DemoError(Exception):
    """A demo step failed; ``participants`` are the ones whose logs tell why."""

    def __init__(self, message: str, *participants: Participant) -> None:
        super().__init__(message)
        self.message = message
        self.participants = participants


@dataclass
class Participant:
    key: str
    label: str
    port: int
    home: Path
    #: The governance authority's DID (connectors trust it and get their credentials from it);
    #: None for the authority itself.
    authority: str | None = None
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    #: Extra TWINSPACE_* settings for this process (e.g. shorter caches for the demo).
    settings: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def is_authority(self) -> bool:
        return self.authority is None

    @property
    def participant_id(self) -> str:
        """The DID (path-based did:web), which is also the DSP participant id."""
        return did_web_for(self.base_url, self.key)

    @property
    def ready_url(self) -> str:
        if self.is_authority:
            return f"{self.base_url}/{self.key}/did.json"
        return f"{self.base_url}/.well-known/dspace-version"

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def dsp_url(self) -> str:
        return f"{self.base_url}/dsp"

    @property
    def log_path(self) -> Path:
        return self.home / "connector.log"

    def client(self) -> ManagementClient:
        return ManagementClient(self.base_url, self.api_key)

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        # The children get their settings from the command line only: a TWINSPACE_DATABASE_URL
        # meant for something else must not make three participants share one database.
        env = {k: v for k, v in os.environ.items() if not k.startswith("TWINSPACE_")}
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.settings)
        common = [
            "--name",
            self.key,
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--data-dir",
            str(self.home),
            "--api-key",
            self.api_key,
            "--public-url",
            self.base_url,
            "--log-level",
            "warning",
            # development only: every did:web here is on 127.0.0.1, served over plain http
            "--allow-http-did",
        ]
        if self.is_authority:
            command = [sys.executable, "-m", "twinspace.cli", "authority", "serve", *common]
        else:
            assert self.authority is not None
            command = [sys.executable, "-m", "twinspace.cli", "serve", *common]
            command += ["--auth", "dcp", "--authority", self.authority]
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # Ctrl-C reaches the demo, which then stops us in order
            preexec_fn=_die_with_parent(),
        )

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


class Fleet:
    """The demo's participants: start them all, wait until they answer, stop them all."""

    def __init__(self, participants: list[Participant]) -> None:
        self.participants = participants

    def __iter__(self) -> Iterator[Participant]:
        return iter(self.participants)

    def check_ports(self) -> None:
        for p in self:
            if not port_free(p.port):
                raise DemoError(
                    f"port {p.port} (for the {p.label}) is in use; choose another --base-port"
                )

    def start(self, *which: Participant) -> None:
        """Start ``which`` (default: everyone not started yet)."""
        for p in which or [p for p in self if p.process is None]:
            p.start()

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> dict[str, float]:
        """Wait until every started participant answers (``/.well-known/dspace-version``, or
        its DID document for the authority); seconds each."""
        began = time.monotonic()
        ready: dict[str, float] = {}
        with httpx.Client(timeout=2.0) as http:
            started = [p for p in self if p.process is not None]
            while len(ready) < len(started):
                for p in started:
                    if p.key in ready:
                        continue
                    code = p.exit_code()
                    if code is not None:
                        raise DemoError(f"the {p.label} exited during start-up (code {code})", p)
                    try:
                        if http.get(p.ready_url).status_code == 200:
                            ready[p.key] = time.monotonic() - began
                    except httpx.HTTPError:
                        pass
                if time.monotonic() - began > timeout:
                    late = [p for p in started if p.key not in ready]
                    names = ", ".join(p.label for p in late)
                    raise DemoError(f"not ready after {timeout:.0f} s: {names}", *late)
                time.sleep(0.1)
        return ready

    def dead(self) -> list[Participant]:
        return [p for p in self if p.exit_code() is not None]

    def stop(self, timeout: float = STOP_TIMEOUT) -> list[str]:
        """SIGTERM everyone, wait up to ``timeout`` in all, then SIGKILL; what had to be killed."""
        running = [p for p in self if p.process is not None and p.process.poll() is None]
        for p in running:
            assert p.process is not None
            p.process.terminate()
        deadline = time.monotonic() + timeout
        killed = []
        for p in running:
            assert p.process is not None
            try:
                p.process.wait(max(0.1, deadline - time.monotonic()))
            except (subprocess.TimeoutExpired, KeyboardInterrupt):
                # too slow, or a second Ctrl-C while waiting: no more patience for anyone
                deadline = 0.0
                p.process.kill()
                p.process.wait()
                killed.append(p.key)
        for p in self:
            p.close_log()
        return killed


MARKER = ".twinspace-demo"


def prepare_home(keep_data: bool, run_dir: Path | None) -> Path:
    if not keep_data:
        return Path(tempfile.mkdtemp(prefix="twinspace-demo-"))
    home = (run_dir or Path("demo-run")).resolve()
    if home.exists() and any(home.iterdir()):
        if not (home / MARKER).exists():
            raise DemoError(f"{home} exists and is not a demo run; move it away or empty it")
        shutil.rmtree(home)  # the previous run's databases would clash with this one's ids
    home.mkdir(parents=True, exist_ok=True)
    (home / MARKER).write_text("written by `twinspace demo --keep-data`; safe to delete\n")
    return home
