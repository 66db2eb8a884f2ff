"""Pull transfers end to end: the provider's /public/data, its tokens' lifecycle, refresh."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tests.connector.harness import Node, network
from tests.dataplane.util import (
    act,
    agree,
    asgi_get,
    edr,
    provider_side,
    pump,
    start_transfer,
    transfer,
)

from twinspace.clock import ManualClock
from twinspace.dataplane import CHUNK_SIZE, PullError, edr_from, pull_to_file
from twinspace.protocol.transfer import TPMessage

DATA = os.urandom(CHUNK_SIZE * 3 + 1000)


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "twin.bin"
    path.write_bytes(DATA)
    return path


async def get(node: Node, url: str, token: str | None, **headers: str) -> httpx.Response:
    if token is not None:
        headers.setdefault("Authorization", f"Bearer {token}")
    return await node.connector.http.get(url, headers=headers)


async def test_pull_a_file_end_to_end(tmp_path: Path, data_file: Path) -> None:
    async with network(tmp_path, ["provider", "consumer"]) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        p.add_offer("twin", {"type": "File", "path": str(data_file)})
        ct, pt = await start_transfer(c, p, await agree(c, p, "twin"))
        e = edr(c, ct.id)
        assert e["endpoint"] == "http://provider.test/public/data"
        assert e["authType"] == "bearer" and e["refreshEndpoint"].endswith("/public/token")

        r = await get(c, e["endpoint"], e["authorization"])
        assert r.status_code == 200, r.text
        assert r.content == DATA
        assert r.headers["content-length"] == str(len(DATA))
        assert r.headers["content-type"] == "application/octet-stream"
        assert transfer(p, pt.id).bytes_transferred == len(DATA)

        raw = await get(c, e["endpoint"], None, Authorization=e["authorization"])  # no "Bearer"
        assert raw.status_code == 200 and raw.content == DATA
        assert transfer(p, pt.id).bytes_transferred == 2 * len(DATA)


async def test_large_file_goes_out_in_several_chunks(tmp_path: Path, data_file: Path) -> None:
    async with network(tmp_path, ["provider", "consumer"]) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        p.add_offer("twin", {"type": "File", "path": str(data_file)})
        ct, pt = await start_transfer(c, p, await agree(c, p, "twin"))
        token = edr(c, ct.id)["authorization"]
        r = await asgi_get(p.app, "/public/data", {"Authorization": f"Bearer {token}"})
        assert r.status == 200
        assert len(r.bodies) == 4, "one ASGI body message per source chunk"
        assert all(len(b) <= CHUNK_SIZE for b in r.bodies)
        assert r.body == DATA and r.headers["content-length"] == str(len(DATA))
        assert transfer(p, pt.id).bytes_transferred == len(DATA)


async def test_an_aborted_download_counts_no_bytes(tmp_path: Path, data_file: Path) -> None:
    async with network(tmp_path, ["provider", "consumer"]) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        p.add_offer("twin", {"type": "File", "path": str(data_file)})
        ct, pt = await start_transfer(c, p, await agree(c, p, "twin"))
        token = edr(c, ct.id)["authorization"]
        r = await asgi_get(p.app, "/public/data", {"Authorization": token}, stop_after=1)
        assert r.status == 200 and 1 <= len(r.bodies) < 4
        assert transfer(p, pt.id).bytes_transferred == 0


async def test_pull_to_file_reports_progress(tmp_path: Path, data_file: Path) -> None:
    async with network(tmp_path, ["provider", "consumer"]) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        p.add_offer("twin", {"type": "File", "path": str(data_file)})
        ct, _ = await start_transfer(c, p, await agree(c, p, "twin"))
        seen: list[tuple[int, int | None]] = []
        dest = tmp_path / "out" / "twin.bin"
        dest.parent.mkdir()
        n = await pull_to_file(
            c.connector.http,
            transfer(c, ct.id).data_address or {},
            dest,
            progress=lambda done, total: seen.append((done, total)),
            chunk_size=64 * 1024,
        )
        assert n == len(DATA) and dest.read_bytes() == DATA
        assert seen[0] == (0, len(DATA)) and seen[-1] == (len(DATA), len(DATA))
        assert len(seen) > 2 and [d for d, _ in seen] == sorted(d for d, _ in seen)
        assert list(dest.parent.iterdir()) == [dest]  # no .part left behind


async def test_unknown_or_missing_token_is_401(tmp_path: Path) -> None:
    async with network(tmp_path, ["provider"]) as nodes:
        p = nodes["provider"]
        for token in ("not-a-token", None):
            r = await get(p, "http://provider.test/public/data", token)
            assert r.status_code == 401
            assert r.headers["www-authenticate"] == "Bearer"
            assert r.json()["error"] == "invalid_token"
        assert (await get(p, "http://provider.test/public/data", "x")).json()["reason"] == (
            "unknown token"
        )


@pytest.fixture
async def manual(tmp_path: Path, data_file: Path) -> AsyncIterator[dict[str, Node]]:
    """Provider and consumer whose managers only run when pumped, on a hand-driven clock."""
    clock = ManualClock()
    async with network(
        tmp_path, ["provider", "consumer"], clock=clock, run_managers=False, token_ttl_seconds=60
    ) as nodes:
        nodes["provider"].add_offer("twin", {"type": "File", "path": str(data_file)})
        nodes["clock"] = clock  # type: ignore[assignment]
        yield nodes


async def pulled(c: Node, transfer_id: str) -> int:
    e = edr(c, transfer_id)
    return (await get(c, e["endpoint"], e["authorization"])).status_code


async def test_token_stops_while_consumer_suspends_and_works_after_resume(
    manual: dict[str, Node],
) -> None:
    p, c = manual["provider"], manual["consumer"]
    ct, pt = await start_transfer(c, p, await agree(c, p, "twin"))
    token = edr(c, ct.id)["authorization"]
    assert await pulled(c, ct.id) == 200

    await act(c, p, ct.id, TPMessage.SUSPENSION)
    assert transfer(p, pt.id).state == "SUSPENDED"
    r = await get(c, "http://provider.test/public/data", token)
    assert r.status_code == 403 and r.json() == {
        "error": "access_denied",
        "reason": "transfer is SUSPENDED",
    }
    assert r.headers["www-authenticate"] == "Bearer"

    address = transfer(c, ct.id).data_address or {}
    with pytest.raises(PullError, match="answered 403: access_denied: transfer is SUSPENDED"):
        await pull_to_file(c.connector.http, address, Path(c.connector.ctx.settings.data_dir) / "x")

    await act(c, p, ct.id, TPMessage.START)
    assert transfer(p, pt.id).state == "STARTED"
    assert (await get(c, "http://provider.test/public/data", token)).status_code == 200


async def test_token_stops_the_moment_the_provider_suspends(manual: dict[str, Node]) -> None:
    p, c = manual["provider"], manual["consumer"]
    ct, pt = await start_transfer(c, p, await agree(c, p, "twin"))
    old = edr(c, ct.id)["authorization"]

    p.connector.transfers.act(pt.id, TPMessage.SUSPENSION)  # queued, not yet delivered
    r = await get(c, "http://provider.test/public/data", old)
    assert r.status_code == 403 and r.json()["reason"] == "transfer is being stopped"
    await pump(p, c)
    assert transfer(c, ct.id).state == "SUSPENDED"
    assert (await get(c, "http://provider.test/public/data", old)).status_code == 403

    await act(p, c, pt.id, TPMessage.START)  # the provider's new start carries a fresh EDR
    assert transfer(c, ct.id).state == "STARTED"
    assert edr(c, ct.id)["authorization"] != old
    assert await pulled(c, ct.id) == 200


@pytest.mark.parametrize(
    ("side", "kind"),
    [
        ("consumer", TPMessage.COMPLETION),
        ("provider", TPMessage.COMPLETION),
        ("consumer", TPMessage.TERMINATION),
        ("provider", TPMessage.TERMINATION),
    ],
)
async def test_token_refused_once_the_transfer_ended(
    manual: dict[str, Node], side: str, kind: str
) -> None:
    p, c = manual["provider"], manual["consumer"]
    ct, pt = await start_transfer(c, p, await agree(c, p, "twin"))
    token = edr(c, ct.id)["authorization"]
    actor, other, tid = (c, p, ct.id) if side == "consumer" else (p, c, pt.id)
    await act(actor, other, tid, kind)
    ended = "COMPLETED" if kind == TPMessage.COMPLETION else "TERMINATED"
    assert transfer(p, pt.id).state == ended and transfer(c, ct.id).state == ended
    r = await get(c, "http://provider.test/public/data", token)
    assert r.status_code == 401 and r.json()["reason"] == "token revoked"


async def test_expired_token_is_refused_and_refresh_replaces_it(manual: dict[str, Node]) -> None:
    p, c, clock = manual["provider"], manual["consumer"], manual["clock"]
    ct, _ = await start_transfer(c, p, await agree(c, p, "twin"))
    e = edr(c, ct.id)
    assert e["expiresIn"] == "60"
    clock.advance(61)  # type: ignore[attr-defined]
    r = await get(c, e["endpoint"], e["authorization"])
    assert r.status_code == 401 and r.json()["reason"] == "token expired"

    r = await c.connector.http.post(
        e["refreshEndpoint"],
        data={"grant_type": "refresh_token", "refresh_token": e["refreshToken"]},
    )
    assert r.status_code == 200, r.text
    fresh = r.json()
    assert fresh["token_type"] == "Bearer" and fresh["expires_in"] == 60
    assert r.headers["cache-control"] == "no-store"
    assert (await get(c, e["endpoint"], fresh["access_token"])).status_code == 200
    r = await get(c, e["endpoint"], e["authorization"])
    assert r.status_code == 401 and r.json()["reason"] == "token revoked"

    # the used refresh token is dead too; the new one works (as JSON as well as a form)
    r = await c.connector.http.post(
        e["refreshEndpoint"],
        data={"grant_type": "refresh_token", "refresh_token": e["refreshToken"]},
    )
    assert r.status_code == 400 and r.json() == {
        "error": "invalid_grant",
        "reason": "token revoked",
    }
    r = await c.connector.http.post(
        e["refreshEndpoint"],
        json={"grant_type": "refresh_token", "refresh_token": fresh["refresh_token"]},
    )
    assert r.status_code == 200
    assert (await get(c, e["endpoint"], r.json()["access_token"])).status_code == 200
    assert (await get(c, e["endpoint"], fresh["access_token"])).status_code == 401


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"grant_type": "refresh_token"}, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, "invalid_grant"),
    ],
)
async def test_bad_refresh_requests(tmp_path: Path, body: dict[str, str], error: str) -> None:
    async with network(tmp_path, ["provider"]) as nodes:
        r = await nodes["provider"].client.post("/public/token", data=body)
        assert r.status_code == 400 and r.json()["error"] == error
        bad = await nodes["provider"].client.post(
            "/public/token", content=b"[1]", headers={"Content-Type": "application/json"}
        )
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"


async def test_pull_to_file_refreshes_an_expired_token_once(
    manual: dict[str, Node], tmp_path: Path
) -> None:
    p, c, clock = manual["provider"], manual["consumer"], manual["clock"]
    ct, pt = await start_transfer(c, p, await agree(c, p, "twin"))
    address = transfer(c, ct.id).data_address or {}
    clock.advance(61)  # type: ignore[attr-defined]
    dest = tmp_path / "twin.out"
    assert await pull_to_file(c.connector.http, address, dest) == len(DATA)
    assert dest.read_bytes() == DATA

    # the refresh token was used up above: now the 401 is final, with the reason
    with pytest.raises(PullError, match=r"refreshing the token .* \(400\): invalid_grant"):
        await pull_to_file(c.connector.http, address, tmp_path / "again.out")
    no_refresh = {**address, "endpointProperties": address["endpointProperties"][:1]}
    with pytest.raises(PullError, match=r"answered 401: invalid_token: token revoked"):
        await pull_to_file(c.connector.http, no_refresh, tmp_path / "again.out")
    assert not (tmp_path / "again.out").exists()
    assert not list(tmp_path.glob("*.part"))
    assert transfer(p, pt.id).bytes_transferred == len(DATA)


async def test_token_works_once_the_start_message_is_out(manual: dict[str, Node]) -> None:
    """The consumer may pull as soon as it has the start message, before the provider's
    manager has applied the acknowledgement of it."""
    p, c = manual["provider"], manual["consumer"]
    agreement = await agree(c, p, "twin")
    t = c.connector.transfers.initiate(
        counter_party_address=p.dsp, agreement_id=agreement, format_="HttpData-PULL"
    )
    await c.connector.manager.run_once()  # the request is delivered; the provider answers
    pt = provider_side(p, transfer(c, t.id))
    claimed = p.connector.manager._claim(10)  # the provider's start message, leased ...
    assert [i.message_type for i in claimed] == [TPMessage.START]
    start = claimed[0]
    delivery = await p.connector.manager.dispatcher.send(start.url, start.payload, start.audience)
    assert delivery.ok  # ... delivered, its acknowledgement not yet applied
    assert transfer(c, t.id).state == "STARTED" and transfer(p, pt.id).state == "REQUESTED"
    assert await pulled(c, t.id) == 200
    p.connector.manager._acknowledged(start, delivery)
    assert transfer(p, pt.id).state == "STARTED"
    assert await pulled(c, t.id) == 200


def test_edr_from_reads_dsp_endpoint_properties() -> None:
    address = {
        "@type": "DataAddress",
        "endpointType": "https://w3id.org/idsa/v4.1/HTTP",
        "endpoint": "http://provider.test/public/data",
        "endpointProperties": [
            {"@type": "EndpointProperty", "name": "authorization", "value": "Bearer abc"},
            {"@type": "EndpointProperty", "name": "authType", "value": "bearer"},
            {"@type": "EndpointProperty", "name": "expiresIn", "value": "300"},
            {"@type": "EndpointProperty", "name": "refreshToken", "value": "r"},
            {
                "@type": "EndpointProperty",
                "name": "https://w3id.org/edc/v0.0.1/ns/refreshEndpoint",
                "value": "http://provider.test/public/token",
            },
        ],
    }
    e = edr_from(address)
    assert (e.endpoint, e.token, e.refresh_token, e.expires_in) == (
        "http://provider.test/public/data",
        "abc",
        "r",
        300,
    )
    assert e.refresh_endpoint == "http://provider.test/public/token" and e.can_refresh
    with pytest.raises(PullError, match="no 'authorization' token"):
        edr_from({"endpoint": "http://x.test/"})
    with pytest.raises(PullError, match="no http"):
        edr_from({"endpointProperties": []})


async def test_a_pull_token_does_not_open_the_push_receiver(
    tmp_path: Path, data_file: Path
) -> None:
    async with network(tmp_path, ["provider", "consumer"], run_managers=False) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        p.add_offer("twin", {"type": "File", "path": str(data_file)})
        ct, _ = await start_transfer(c, p, await agree(c, p, "twin"))
        token = edr(c, ct.id)["authorization"]
        r = await p.connector.http.post(
            f"http://provider.test/public/push/{transfer(c, ct.id).provider_pid}",
            content=b"junk",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 403 and "not for pushing" in r.json()["reason"]


async def test_concurrent_pulls_of_one_transfer_all_count(tmp_path: Path, data_file: Path) -> None:
    """Many pulls ending at once each add their bytes (no lost update, no failed request)."""
    import asyncio

    async with network(tmp_path, ["provider", "consumer"]) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        p.add_offer("twin", {"type": "File", "path": str(data_file)})
        ct, pt = await start_transfer(c, p, await agree(c, p, "twin"))
        e = edr(c, ct.id)
        answers = await asyncio.gather(
            *(get(c, e["endpoint"], e["authorization"]) for _ in range(12))
        )
        assert [r.status_code for r in answers] == [200] * 12
        assert transfer(p, pt.id).bytes_transferred == 12 * len(DATA)
