"""Helpers for data-plane tests over the in-process network of ``tests.connector.harness``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI
from tests.connector.harness import HostRouter, Node

from twinspace.protocol import messages as m
from twinspace.protocol.machine import Role
from twinspace.store import OutboxItem, Transfer, tables

T = TypeVar("T")
Message = MutableMapping[str, Any]


async def wait_for(predicate: Callable[[], T], timeout: float = 5.0) -> T:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def pump(*nodes: Node) -> None:
    """Step managers that do not run by themselves until none of them has anything due."""
    manual = [n for n in nodes if not n.connector.ctx.settings.run_managers]
    for _ in range(100):
        busy = 0
        for node in manual:
            busy += await node.connector.manager.run_once()
        if not busy:
            return


async def settle(nodes: tuple[Node, ...], predicate: Callable[[], T], timeout: float = 5.0) -> T:
    await pump(*nodes)
    return await wait_for(predicate, timeout)


def transfer(node: Node, transfer_id: str) -> Transfer:
    with node.connector.store.transaction() as tx:
        found: Transfer = tx.transfers.get(transfer_id)
        return found


def provider_side(p: Node, consumer_transfer: Transfer) -> Transfer:
    with p.connector.store.transaction() as tx:
        found: Transfer = tx.transfers.by_pid(
            Role.PROVIDER, consumer_pid=consumer_transfer.consumer_pid
        )
        return found


def outbox_job(node: Node, process_id: str, message_type: str) -> OutboxItem | None:
    """The (last) outbound item of ``message_type`` for a process."""
    c = tables.outbox.c
    with node.connector.store.transaction() as tx:
        items: list[OutboxItem] = tx.outbox.rows.list(
            c.process_id == process_id, c.message_type == message_type
        )
    return items[-1] if items else None


def state_is(node: Node, transfer_id: str, *states: str) -> bool:
    return transfer(node, transfer_id).state in states


async def agree(c: Node, p: Node, asset_id: str) -> str:
    """Negotiate ``asset_id`` from ``p`` to the end; returns the agreement id."""
    r = await p.client.get(f"/dsp/catalog/datasets/{asset_id}")
    assert r.status_code == 200, r.text
    offer = {**r.json()["hasPolicy"][0], "target": asset_id}
    n = c.connector.negotiations.initiate(counter_party_address=p.dsp, offer=offer)
    c.connector.wake()

    def finalized() -> str | None:
        with c.connector.store.transaction() as tx:
            cn = tx.negotiations.get(n.id)
        with p.connector.store.transaction() as tx:
            theirs = tx.negotiations.by_pid(Role.PROVIDER, consumer_pid=n.id)
        if cn.state == "FINALIZED" and theirs is not None and theirs.state == "FINALIZED":
            return str(cn.agreement_id)
        return None

    return str(await settle((c, p), finalized))


async def start_transfer(
    c: Node, p: Node, agreement_id: str, format_: str = "HttpData-PULL"
) -> tuple[Transfer, Transfer]:
    """Ask for a transfer; for pull, wait until both sides are STARTED. Returns (consumer, provider)."""
    t = c.connector.transfers.initiate(
        counter_party_address=p.dsp, agreement_id=agreement_id, format_=format_
    )
    c.connector.wake()
    if format_.endswith("PUSH"):
        await settle((c, p), lambda: transfer(c, t.id).provider_pid)
    else:
        await settle((c, p), lambda: state_is(c, t.id, "STARTED"))
    mine = transfer(c, t.id)
    return mine, provider_side(p, mine)


async def act(node: Node, other: Node, transfer_id: str, kind: str) -> Transfer:
    """``kind`` from ``node``'s side; returns once the manager delivered it."""
    node.connector.transfers.act(transfer_id, kind)
    node.connector.wake()
    await settle((node, other), lambda: not pending(node, transfer_id))
    return transfer(node, transfer_id)


def pending(node: Node, transfer_id: str) -> list[OutboxItem]:
    with node.connector.store.transaction() as tx:
        return tx.outbox.pending_for(transfer_id)


def edr(node: Node, transfer_id: str) -> dict[str, str]:
    """The consumer's view of the pull EDR: ``endpoint`` plus the endpoint properties."""
    address = transfer(node, transfer_id).data_address or {}
    return {"endpoint": address["endpoint"], **m.endpoint_properties(address)}


def host_router(node: Node) -> HostRouter:
    """The harness's HostRouter (the transport of the client every node shares)."""
    router = node.connector.http._transport
    assert isinstance(router, HostRouter)
    return router


# --- raw ASGI: see every body message of a response --------------------------------------------


@dataclass
class AsgiResponse:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    bodies: list[bytes] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return b"".join(self.bodies)


async def asgi_get(
    app: FastAPI,
    path: str,
    headers: dict[str, str] | None = None,
    *,
    host: str = "provider.test",
    stop_after: int | None = None,
) -> AsgiResponse:
    """GET ``path`` straight through ASGI, keeping each ``http.response.body`` message apart.

    With ``stop_after``, the client disconnects after that many body messages.
    """
    result = AsgiResponse()
    disconnect = asyncio.Event()
    asked = False
    raw_path, _, query = path.partition("?")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", host.encode())]
        + [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 1234),
        "server": (host, 80),
    }

    async def receive() -> Message:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            result.status = message["status"]
            result.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            if message.get("body"):
                result.bodies.append(message["body"])
            if stop_after is not None and len(result.bodies) >= stop_after:
                disconnect.set()

    await asyncio.wait_for(app(scope, receive, send), timeout=5)
    return result


# --- a transport that streams responses (httpx.ASGITransport buffers them whole) --------------


class _QueueStream(httpx.AsyncByteStream):
    def __init__(
        self, queue: asyncio.Queue[Message], task: asyncio.Task[None], gone: asyncio.Event
    ) -> None:
        self.queue, self.task, self.gone = queue, task, gone

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            message = await self.queue.get()
            if message.get("body"):
                yield message["body"]
            if not message.get("more_body"):
                return

    async def aclose(self) -> None:
        self.gone.set()
        if not self.task.done():
            self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task


class StreamingASGITransport(httpx.AsyncBaseTransport):
    """Serves an ASGI app, handing its body messages to the client as they come (even endless)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.tasks: list[asyncio.Task[None]] = []  # one per request: the app serving it

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = b"".join([chunk async for chunk in request.stream])  # type: ignore[union-attr]
        queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=4)
        started: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        gone = asyncio.Event()
        delivered = False
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "root_path": "",
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "client": ("127.0.0.1", 1234),
            "server": (request.url.host, request.url.port or 80),
        }

        async def receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.set_result(message)
            elif message["type"] == "http.response.body":
                await queue.put(message)

        task = asyncio.create_task(self.app(scope, receive, send))
        self.tasks.append(task)
        watched: set[asyncio.Future[Any]] = {started, task}
        await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        if not started.done():
            task.result()  # raises the app's exception
            raise httpx.RemoteProtocolError("the app sent no response", request=request)
        start = started.result()
        return httpx.Response(
            start["status"],
            headers=start.get("headers", []),
            stream=_QueueStream(queue, task, gone),
            request=request,
        )
