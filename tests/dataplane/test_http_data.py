"""HttpData assets: /public/data proxies a backend (paths, queries, auth, streams, errors)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.connector.harness import Node, network
from tests.dataplane.backend import CSV, STREAM_PARTS, BackendLog, backend_app
from tests.dataplane.test_push import received
from tests.dataplane.util import (
    StreamingASGITransport,
    agree,
    asgi_get,
    edr,
    host_router,
    settle,
    start_transfer,
    state_is,
    transfer,
    wait_for,
)

BACKEND = "http://backend.test"


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[tuple[Node, Node, BackendLog]]:
    async with network(tmp_path, ["provider", "consumer"]) as found:
        app, log = backend_app()
        host_router(found["provider"]).add("backend.test", app)
        yield found["provider"], found["consumer"], log


async def pull(
    nodes: tuple[Node, Node, BackendLog], address: dict[str, Any], sub: str = ""
) -> tuple[Any, str, str]:
    """Offer ``address``, agree, start; returns (response of GET endpoint+sub, p's transfer id)."""
    p, c, _ = nodes
    p.add_offer("feed", address)
    ct, pt = await start_transfer(c, p, await agree(c, p, "feed"))
    e = edr(c, ct.id)
    r = await c.connector.http.get(
        e["endpoint"] + sub, headers={"Authorization": f"Bearer {e['authorization']}"}
    )
    return r, pt.id, e["authorization"]


async def test_proxies_path_query_and_backend_auth(nodes: tuple[Node, Node, BackendLog]) -> None:
    address = {
        "type": "HttpData",
        "baseUrl": f"{BACKEND}/echo",
        "proxyPath": "true",
        "proxyQueryParams": "true",
        "authKey": "X-Api-Key",
        "authCode": "backend-secret",
    }
    r, _, _ = await pull(nodes, address, "/stations/42?from=2026-01-01&limit=5")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "path": "stations/42",
        "query": "from=2026-01-01&limit=5",
        "key": "backend-secret",
        "authorization": None,  # the consumer's token never reaches the backend
    }


async def test_path_and_query_stay_put_unless_allowed(nodes: tuple[Node, Node, BackendLog]) -> None:
    r, _, _ = await pull(nodes, {"type": "HttpData", "baseUrl": f"{BACKEND}/echo/fixed"}, "/x?y=1")
    assert r.status_code == 200
    assert r.json()["path"] == "fixed" and r.json()["query"] == ""
    assert nodes[2].requests == [f"{BACKEND}/echo/fixed"]


async def test_finite_backend_body_with_length(nodes: tuple[Node, Node, BackendLog]) -> None:
    r, pid, _ = await pull(nodes, {"type": "HttpData", "baseUrl": f"{BACKEND}/counts.csv"})
    assert r.status_code == 200 and r.text == CSV
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-length"] == str(len(CSV))
    assert transfer(nodes[0], pid).bytes_transferred == len(CSV)


async def test_chunked_backend_stream_is_passed_through(
    nodes: tuple[Node, Node, BackendLog],
) -> None:
    p = nodes[0]
    r, pid, token = await pull(nodes, {"type": "HttpData", "baseUrl": f"{BACKEND}/stream"})
    assert r.status_code == 200 and r.content == b"".join(STREAM_PARTS)
    assert "content-length" not in r.headers or r.headers.get("transfer-encoding") == "chunked"
    assert r.headers["content-type"] == "application/x-ndjson"
    assert transfer(p, pid).bytes_transferred == len(r.content)

    # the backend's parts reach the consumer as they come, not gathered into one body
    host_router(p).apps["backend.test"] = StreamingASGITransport(backend_app()[0])  # type: ignore[assignment]
    raw = await asgi_get(p.app, "/public/data", {"Authorization": f"Bearer {token}"})
    assert raw.status == 200 and raw.body == b"".join(STREAM_PARTS)
    assert len(raw.bodies) >= len(STREAM_PARTS)
    assert "content-length" not in raw.headers


async def test_endless_backend_stream_stops_when_the_consumer_leaves(
    nodes: tuple[Node, Node, BackendLog],
) -> None:
    p, c, _ = nodes
    app, log = backend_app()
    backend = StreamingASGITransport(app)
    host_router(p).apps["backend.test"] = backend  # type: ignore[assignment]
    p.add_offer("ticker", {"type": "HttpData", "baseUrl": f"{BACKEND}/endless"})
    ct, pt = await start_transfer(c, p, await agree(c, p, "ticker"))
    token = edr(c, ct.id)["authorization"]
    raw = await asgi_get(p.app, "/public/data", {"Authorization": token}, stop_after=5)
    assert raw.status == 200 and len(raw.bodies) >= 5
    assert raw.body.startswith(b"tick\n" * 1000)
    # the backend request ended with the consumer's: nothing keeps reading the endless stream
    assert len(backend.tasks) == 1
    await wait_for(lambda: backend.tasks[0].done(), timeout=1)
    sent = log.endless_sent
    assert sent < 20  # backpressure: the backend was read only as fast as it was sent on
    await asyncio.sleep(0.05)
    assert log.endless_sent == sent
    assert transfer(p, pt.id).bytes_transferred == 0  # an aborted download counts nothing


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/broken", 502, "answered 503: backend is down for maintenance"),
        ("/secret", 502, "answered 401: no key"),
        ("/nothing-here", 404, "answered 404"),
    ],
)
async def test_backend_errors(
    nodes: tuple[Node, Node, BackendLog], path: str, status: int, reason: str
) -> None:
    r, pid, _ = await pull(nodes, {"type": "HttpData", "baseUrl": f"{BACKEND}{path}"})
    assert r.status_code == status
    assert r.json()["error"] == "source_unavailable" and reason in r.json()["reason"]
    assert transfer(nodes[0], pid).bytes_transferred == 0


async def test_unreadable_sources_answer_clearly(
    nodes: tuple[Node, Node, BackendLog], tmp_path: Path
) -> None:
    r, _, _ = await pull(nodes, {"type": "AmazonS3", "bucket": "twins"})
    assert r.status_code == 502
    assert r.json() == {
        "error": "source_unavailable",
        "reason": "unsupported data address type ('AmazonS3'); supported types: File, HttpData",
    }


async def test_file_sources_missing_or_with_sub_path(tmp_path: Path) -> None:
    async with network(tmp_path, ["provider", "consumer"]) as found:
        p, c = found["provider"], found["consumer"]
        there = tmp_path / "there.csv"
        there.write_text("a\n")
        p.add_offer("gone", {"type": "File", "path": str(tmp_path / "gone.csv")})
        p.add_offer("there", {"type": "File", "path": str(there)})
        for asset, sub, status, reason in (
            ("gone", "", 502, "gone.csv' does not exist"),
            ("there", "/x", 404, "a File asset has no sub-paths"),
        ):
            ct, _ = await start_transfer(c, p, await agree(c, p, asset))
            e = edr(c, ct.id)
            r = await c.connector.http.get(
                e["endpoint"] + sub, headers={"Authorization": e["authorization"]}
            )
            assert r.status_code == status and reason in r.json()["reason"]


async def test_push_an_http_data_asset(nodes: tuple[Node, Node, BackendLog]) -> None:
    p, c, _ = nodes
    p.add_offer("feed", {"type": "HttpData", "baseUrl": f"{BACKEND}/stream"})
    ct, pt = await start_transfer(c, p, await agree(c, p, "feed"), "HttpData-PUSH")
    await settle(
        (c, p), lambda: state_is(c, ct.id, "COMPLETED") and state_is(p, pt.id, "COMPLETED")
    )
    assert received(c, ct.id).read_bytes() == b"".join(STREAM_PARTS)
    assert transfer(p, pt.id).bytes_transferred == len(b"".join(STREAM_PARTS))
