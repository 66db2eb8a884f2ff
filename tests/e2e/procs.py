"""Connectors as real OS processes, and a TCP gate in front of them for fault injection.

``Participant`` runs ``serve_participant.py`` (uvicorn + ``create_app``) with its own
``TWINSPACE_*`` environment on a free loopback port, waits until it answers
``/.well-known/dspace-version``, and can be killed (SIGKILL), stopped (SIGTERM) and restarted on
the same database and port. ``Gate`` is a loopback TCP forwarder put in front of a participant's
DSP address: ``open`` forwards, ``refuse`` resets every connection (the participant looks down),
``hold`` forwards requests but swallows the answers (the message arrives, its acknowledgement
never does). The gate records the request lines it forwarded, so a test can count deliveries.

``Cluster`` owns participants and gates and cleans all of them up; every child process also
dies with the test process (``PR_SET_PDEATHSIG``) and at interpreter exit.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from twinspace.protocol.machine import Role
from twinspace.store import Agreement, Negotiation, OutboxItem, Store, Transfer, tables

SERVE = Path(__file__).with_name("serve_participant.py")
API_KEY = "e2e-key"
LOOPBACK = "127.0.0.1"

#: Fast managers and retries that practically never give up: the tests decide when things break.
FAST: dict[str, str] = {
    "TWINSPACE_MANAGER_INTERVAL": "0.02",
    "TWINSPACE_BACKOFF_BASE": "0.05",
    "TWINSPACE_BACKOFF_MAX": "0.5",
    "TWINSPACE_MAX_ATTEMPTS": "100000",
    "TWINSPACE_LEASE_SECONDS": "6",
    "TWINSPACE_SEND_TIMEOUT": "3",
}

_children: set[subprocess.Popen[bytes]] = set()


def _kill_children() -> None:
    for proc in list(_children):
        if proc.poll() is None:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)


atexit.register(_kill_children)


def _parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive SIGKILL when this process dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL)

    return preexec


_PREEXEC = _parent_death_signal()


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(
    predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or predicate}")
        time.sleep(interval)


class ProcessDied(RuntimeError):
    pass


@dataclass
class Participant:
    """One connector process; its database and port survive ``kill()`` and ``restart()``."""

    name: str
    data_dir: Path
    database_url: str | None = None
    port: int = 0
    public_url: str | None = None
    api_key: str = API_KEY
    participant_id: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    #: Answers 200 once the process is ready (an authority has no DSP version document).
    ready_path: str = "/.well-known/dspace-version"
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    starts: int = field(default=0, init=False)
    _client: httpx.Client | None = field(default=None, init=False, repr=False)
    _db: Store | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        if self.participant_id is None:
            self.participant_id = f"urn:twinspace:{self.name}"
        if self.database_url is None:
            self.database_url = f"sqlite:///{(self.data_dir / f'{self.name}.db').resolve()}"

    # --- addresses ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Where this process listens (always direct, never through a gate)."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def public_base(self) -> str:
        return (self.public_url or self.base_url).rstrip("/")

    @property
    def dsp_url(self) -> str:
        """The DSP address counter-parties use (through the gate when ``public_url`` is one)."""
        return self.public_base + "/dsp"

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"{self.name}.log"

    # --- lifecycle ------------------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TWINSPACE_")}
        env.update(
            {
                "TWINSPACE_NAME": self.name,
                "TWINSPACE_HOST": LOOPBACK,
                "TWINSPACE_PORT": str(self.port),
                "TWINSPACE_DATABASE_URL": str(self.database_url),
                "TWINSPACE_DATA_DIR": str(self.data_dir),
                "TWINSPACE_API_KEY": self.api_key,
                "TWINSPACE_PARTICIPANT_ID": str(self.participant_id),
                "TWINSPACE_AUTH": "none",
                "TWINSPACE_PUBLIC_URL": self.public_base,
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.env)
        if env["TWINSPACE_AUTH"] == "dcp":  # under DCP the participant id is the DID
            env.pop("TWINSPACE_PARTICIPANT_ID")
        return env

    @property
    def did(self) -> str:
        from twinspace.identity import did_web_for

        return did_web_for(self.public_base, self.name)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} was never started"
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> Participant:
        if self.alive:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start #{self.starts} =====\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, str(SERVE)],
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_PREEXEC,  # only a prctl call, looked up beforehand
            )
        _children.add(self.proc)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        url = self.base_url + self.ready_path
        while True:
            if not self.alive:
                raise ProcessDied(f"{self.name} exited while starting:\n{self.log_tail()}")
            try:
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"{self.name} did not answer in {timeout}s:\n{self.log_tail()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs; the database keeps whatever was committed."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        _children.discard(self.proc)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM (uvicorn shuts down cleanly), then SIGKILL after ``grace`` seconds."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        _children.discard(self.proc)

    def restart(self, timeout: float = 60.0) -> Participant:
        """Kill (if still running) and start again on the same database and port."""
        self.kill()
        return self.start(timeout)

    def close(self) -> None:
        self.stop()
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._db is not None:
            self._db.close()
            self._db = None

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # --- talking to it ----------------------------------------------------------------------------

    @property
    def management(self) -> httpx.Client:
        """An httpx client on ``/management/v3`` with this participant's API key."""
        if self._client is None:
            self._client = httpx.Client(
                base_url=self.base_url + "/management/v3",
                headers={"X-Api-Key": self.api_key},
                timeout=30.0,
            )
        return self._client

    @property
    def db(self) -> Store:
        """This participant's database, opened from the test process (no migration)."""
        if self._db is None:
            self._db = Store.open(str(self.database_url), upgrade=False)
        return self._db

    def negotiation_record(self, role: Role, *, consumer_pid: str) -> Negotiation | None:
        with self.db.transaction() as tx:
            found: Negotiation | None = tx.negotiations.by_pid(role, consumer_pid=consumer_pid)
            return found

    def transfer_record(self, role: Role, *, consumer_pid: str) -> Transfer | None:
        with self.db.transaction() as tx:
            found: Transfer | None = tx.transfers.by_pid(role, consumer_pid=consumer_pid)
            return found

    def agreement_record(self, agreement_id: str) -> Agreement | None:
        with self.db.transaction() as tx:
            found: Agreement | None = tx.agreements.find(agreement_id)
            return found

    def outbox(self, process_id: str | None = None) -> list[OutboxItem]:
        """Outbound messages (of one process, or all), oldest first."""
        c = tables.outbox.c
        cond = [] if process_id is None else [c.process_id == process_id]
        with self.db.transaction() as tx:
            return list(tx.outbox.rows.list(*cond, order=c.created_at))


# --- PostgreSQL -----------------------------------------------------------------------------------

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextlib.contextmanager
def postgres_schemas(admin: Engine, count: int) -> Iterator[list[str]]:
    """``count`` fresh schemas in the test database, as URLs whose ``search_path`` is the schema
    (libpq ``options=-csearch_path=...``); dropped (CASCADE) afterwards. ``admin`` autocommits."""
    base = sa.make_url(os.environ.get("TWINSPACE_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL)
    schemas = [f"e2e_{uuid.uuid4().hex[:12]}" for _ in range(count)]
    with admin.connect() as conn:
        for schema in schemas:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield [
            base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
                hide_password=False
            )
            for schema in schemas
        ]
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text("SET lock_timeout = '30s'"))
            for schema in schemas:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


# --- the gate ---------------------------------------------------------------------------------------

Mode = Literal["open", "refuse", "hold"]
_REQUEST_LINE = re.compile(rb"(GET|POST|PUT|DELETE|PATCH|HEAD) (\S+) HTTP/1\.[01]\r\n")


@dataclass
class Seen:
    """One request line the gate forwarded."""

    at: float
    method: str
    path: str
    mode: Mode


class _Link:
    def __init__(self, down: asyncio.StreamWriter) -> None:
        self.down = down
        self.up: asyncio.StreamWriter | None = None

    def abort(self) -> None:
        for w in (self.down, self.up):
            if w is not None:
                w.transport.abort()


class Gate:
    """A loopback TCP forwarder to ``target_port`` whose behaviour a test switches at will.

    Switching the mode resets every open connection, so pooled keep-alive connections cannot
    slip past a new mode.
    """

    def __init__(self, target_port: int, name: str = "gate") -> None:
        self.target_port = target_port
        self.name = name
        self._mode: Mode = "open"
        self._seen: list[Seen] = []
        self._links: set[_Link] = set()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, LOOPBACK, 0), self._loop
        ).result(10)
        self.port: int = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def mode(self) -> Mode:
        return self._mode

    def set_mode(self, mode: Mode) -> None:
        async def switch() -> None:
            self._mode = mode
            for link in list(self._links):
                link.abort()

        asyncio.run_coroutine_threadsafe(switch(), self._loop).result(10)

    def seen(self, pattern: str = "") -> list[Seen]:
        rx = re.compile(pattern)
        with self._lock:
            return [s for s in self._seen if rx.search(s.path)]

    def paths(self, pattern: str = "") -> list[str]:
        return [s.path for s in self.seen(pattern)]

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 30.0) -> list[Seen]:
        found: list[Seen] = wait_until(
            lambda: (s := self.seen(pattern)) and len(s) >= count and s,
            timeout,
            what=f"{count} request(s) matching {pattern!r} through {self.name}",
        )
        return found

    def close(self) -> None:
        async def shutdown() -> None:
            self._server.close()
            for link in list(self._links):
                link.abort()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(writer)
        if self._mode == "refuse":
            link.abort()
            return
        try:
            up_reader, link.up = await asyncio.open_connection(LOOPBACK, self.target_port)
        except OSError:
            link.abort()  # the participant behind the gate is down: so is the gate
            return
        self._links.add(link)
        try:
            await asyncio.gather(
                self._requests(reader, link.up),
                self._answers(up_reader, writer),
                return_exceptions=True,
            )
        finally:
            self._links.discard(link)
            link.abort()

    async def _requests(self, reader: asyncio.StreamReader, up: asyncio.StreamWriter) -> None:
        pending = b""
        while chunk := await reader.read(65536):
            pending += chunk
            end = 0
            for match in _REQUEST_LINE.finditer(pending):
                with self._lock:
                    self._seen.append(
                        Seen(time.monotonic(), match[1].decode(), match[2].decode(), self._mode)
                    )
                end = match.end()
            pending = pending[end:]
            if len(pending) > 8192:
                pending = pending[-1024:]  # a request line is never split wider than this
            up.write(chunk)
            await up.drain()
        up.transport.abort()

    async def _answers(self, up_reader: asyncio.StreamReader, down: asyncio.StreamWriter) -> None:
        while chunk := await up_reader.read(65536):
            if self._mode == "hold":
                continue  # delivered, but the sender never hears back
            down.write(chunk)
            await down.drain()
        down.transport.abort()


class Cluster:
    """Participants and gates under one folder; ``close()`` stops and removes all of them."""

    def __init__(self, root: Path, *, fast: bool = True, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.env = {**(FAST if fast else {}), **(env or {})}
        self.participants: list[Participant] = []
        self.gates: list[Gate] = []

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def participant(
        self,
        name: str,
        *,
        start: bool = True,
        database_url: str | None = None,
        public_url: str | None = None,
        port: int = 0,
        data_dir: Path | None = None,
        participant_id: str | None = None,
        ready_path: str = "/.well-known/dspace-version",
        **env: str,
    ) -> Participant:
        p = Participant(
            ready_path=ready_path,
            name=name,
            data_dir=data_dir or self.root / name,
            database_url=database_url,
            port=port,
            public_url=public_url,
            participant_id=participant_id,
            env={**self.env, **env},
        )
        self.participants.append(p)
        if start:
            p.start()
        return p

    def gate(self, target: Participant | int, name: str = "gate") -> Gate:
        port = target.port if isinstance(target, Participant) else target
        g = Gate(port, name)
        self.gates.append(g)
        return g

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.log_tail()}" for p in self.participants)

    def close(self) -> None:
        for p in self.participants:
            with contextlib.suppress(Exception):
                p.close()
        for g in self.gates:
            g.close()


# --- flows through the management API ----------------------------------------------------------

Json = dict[str, Any]
PROTOCOL = "dataspace-protocol-http:2025-1"


def ok(response: httpx.Response) -> Any:
    """The JSON of a successful response; AssertionError with the body otherwise."""
    if response.is_error:
        raise AssertionError(
            f"{response.request.method} {response.request.url} -> {response.status_code}: "
            f"{response.text[:500]}"
        )
    return response.json() if response.content else None


def publish(
    p: Participant,
    asset_id: str,
    path: Path,
    content_type: str = "application/octet-stream",
    policy: Json | None = None,
) -> None:
    """Offer the file at ``path`` as ``asset_id`` under ``policy`` (default: a plain 'use')."""
    m = p.management
    ok(
        m.post(
            "/assets",
            json={
                "@id": asset_id,
                "properties": {"name": asset_id, "contenttype": content_type},
                "dataAddress": {
                    "type": "File",
                    "path": str(path.resolve()),
                    "contentType": content_type,
                },
            },
        )
    )
    ok(
        m.post(
            "/policydefinitions",
            json={
                "@id": f"policy-{asset_id}",
                "policy": policy or {"permission": [{"action": "use"}]},
            },
        )
    )
    ok(
        m.post(
            "/contractdefinitions",
            json={
                "@id": f"cd-{asset_id}",
                "accessPolicyId": f"policy-{asset_id}",
                "contractPolicyId": f"policy-{asset_id}",
                "assetsSelector": [
                    {"operandLeft": "id", "operator": "=", "operandRight": asset_id}
                ],
            },
        )
    )


def _datasets(catalog: Json) -> list[Json]:
    found: list[Json] = []
    raw = catalog.get("dataset") or []
    for d in raw if isinstance(raw, list) else [raw]:
        if isinstance(d, dict):
            found.append(d)
    nested = catalog.get("catalog") or []
    for sub in nested if isinstance(nested, list) else [nested]:
        if isinstance(sub, dict):
            found.extend(_datasets(sub))
    return found


def catalog_offer(c: Participant, provider_dsp: str, asset_id: str) -> Json:
    """The provider's first offer for ``asset_id``, asked for through the consumer."""
    catalog = ok(
        c.management.post(
            "/catalog/request", json={"counterPartyAddress": provider_dsp, "protocol": PROTOCOL}
        )
    )
    for dataset in _datasets(catalog):
        if dataset.get("@id") == asset_id:
            policies = dataset.get("hasPolicy")
            offer = policies[0] if isinstance(policies, list) else policies
            assert isinstance(offer, dict), dataset
            return {**offer, "target": asset_id}
    raise AssertionError(f"no dataset {asset_id!r} in the catalog: {catalog}")


def start_negotiation(c: Participant, provider_dsp: str, offer: Json) -> str:
    body = {"counterPartyAddress": provider_dsp, "protocol": PROTOCOL, "policy": offer}
    return str(ok(c.management.post("/contractnegotiations", json=body))["@id"])


def negotiation(c: Participant, negotiation_id: str) -> Json:
    found: Json = ok(c.management.get(f"/contractnegotiations/{negotiation_id}"))
    return found


def wait_negotiation(
    c: Participant, negotiation_id: str, state: str = "FINALIZED", timeout: float = 60.0
) -> Json:
    found: Json = wait_until(
        lambda: (n := negotiation(c, negotiation_id))["state"] == state and n,
        timeout,
        what=f"negotiation {negotiation_id} on {c.name} to be {state}",
    )
    return found


def start_transfer(
    c: Participant,
    provider_dsp: str,
    agreement_id: str,
    transfer_type: str = "HttpData-PULL",
    purpose: str | None = None,
) -> str:
    body = {
        "counterPartyAddress": provider_dsp,
        "contractId": agreement_id,
        "transferType": transfer_type,
        "protocol": PROTOCOL,
    }
    if purpose:
        body["purpose"] = purpose
    return str(ok(c.management.post("/transferprocesses", json=body))["@id"])


def transfer(c: Participant, transfer_id: str) -> Json:
    found: Json = ok(c.management.get(f"/transferprocesses/{transfer_id}"))
    return found


def wait_transfer(c: Participant, transfer_id: str, state: str, timeout: float = 60.0) -> Json:
    found: Json = wait_until(
        lambda: (t := transfer(c, transfer_id))["state"] == state and t,
        timeout,
        what=f"transfer {transfer_id} on {c.name} to be {state}",
    )
    return found


def complete_transfer(c: Participant, transfer_id: str) -> None:
    ok(c.management.post(f"/transferprocesses/{transfer_id}/complete"))


def edr(c: Participant, transfer_id: str) -> tuple[str, str]:
    """The endpoint and bearer token of a started pull transfer, from the consumer's EDR."""
    address: Json = ok(c.management.get(f"/edrs/{transfer_id}/dataaddress"))
    token = address.get("authorization")
    if not token:
        props = {
            str(p.get("name", "")).rsplit("/", 1)[-1]: p.get("value")
            for p in address.get("endpointProperties") or []
            if isinstance(p, dict)
        }
        token = props.get("authorization")
    endpoint = address.get("endpoint")
    assert isinstance(endpoint, str) and isinstance(token, str), address
    return endpoint, token.removeprefix("Bearer ").strip()
