"""NgsiLd-PUSH: a twin asset streamed into the consumer's twin while the transfer holds."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.connector.harness import Node
from tests.twin.dataspace.util import (
    LINK,
    MADRID,
    MGMT,
    NGSI,
    agree,
    air,
    entities,
    publish,
    settle,
    space,
    state_is,
    transfer,
    twin_of,
    upsert,
    wait_for,
)

from twinspace.protocol.machine import Role

ADDRESS = {
    "type": "NgsiLdQuery",
    "entityType": "AirQualityObserved",
    "attrs": "NO2,location,refDevice,dateObserved",
    "view": {"within": {"geometry": "Polygon", "coordinates": MADRID}},
}


async def subscribe(c: Node, p: Node, agreement: str, **extra: Any) -> tuple[str, str]:
    r = await c.client.post(
        f"{MGMT}/transferprocesses",
        json={
            "contractId": agreement,
            "transferType": "NgsiLd-PUSH",
            "counterPartyAddress": p.dsp,
            **extra,
        },
    )
    assert r.status_code == 200, r.text
    tid = r.json()["@id"]
    await settle((c, p), lambda: state_is(c, tid, "STARTED"))
    mine = transfer(c, tid)
    with p.connector.store.transaction() as tx:
        theirs = tx.transfers.by_pid(Role.PROVIDER, consumer_pid=mine.consumer_pid)
    await settle((c, p), lambda: state_is(p, theirs.id, "STARTED"))
    return tid, theirs.id


def subscriptions(p: Node, pid: str) -> list[Any]:
    with p.connector.store.transaction() as tx:
        return list(tx.twin_subscriptions.by_owner(f"transfer:{pid}"))


async def no2(c: Node, tenant: str = "") -> dict[str, float]:
    return {e["id"]: e["NO2"]["value"] for e in await entities(c, "AirQualityObserved", tenant)}


async def act(node: Node, other: Node, tid: str, action: str) -> None:
    r = await node.client.post(f"{MGMT}/transferprocesses/{tid}/{action}", json={})
    assert r.status_code == 204, r.text
    await settle((node, other), lambda: not [i for i in _pending(node, tid)])


def _pending(node: Node, tid: str) -> list[Any]:
    with node.connector.store.transaction() as tx:
        return list(tx.outbox.pending_for(tid))


async def test_snapshot_changes_suspend_resume_terminate(tmp_path: Path) -> None:
    async with space(tmp_path) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        await upsert(p, [air(1, 30.0), air(2, 12.0), air(3, 40.0, lon=2.17, lat=41.38)])
        assert (await publish(p, "air", ADDRESS)).status_code == 200
        agreement = await agree(c, p, "air")
        ctid, ptid = await subscribe(c, p, agreement, tenant="city")

        # the snapshot fills the consumer's twin (tenant "city") at once, the area applied
        s1, s2 = (f"urn:ngsi-ld:AirQualityObserved:station-{n}" for n in (1, 2))
        await wait_for(lambda: True)
        await _until(lambda: no2(c, "city"), {s1: 30.0, s2: 12.0})
        [got] = [e for e in await entities(c, "AirQualityObserved", "city") if e["id"] == s1]
        assert got["refDevice"]["object"] == "urn:ngsi-ld:Device:sensor-1"
        assert await entities(c, "AirQualityObserved") == []  # not the default tenant
        [sub] = subscriptions(p, ptid)
        assert sub.active and sub.tenant == ""

        # a later change arrives
        await upsert(p, [air(1, 31.0)])
        await _until(lambda: no2(c, "city"), {s1: 31.0, s2: 12.0})
        assert transfer(c, ctid).bytes_transferred > 0

        # suspended: the subscription pauses and changes are not delivered
        await act(c, p, ctid, "suspend")
        assert state_is(p, ptid, "SUSPENDED")
        [sub] = subscriptions(p, ptid)
        assert not sub.active and sub.doc["isActive"] is False
        await upsert(p, [air(1, 99.0)])
        await asyncio.sleep(0.3)
        assert (await no2(c, "city"))[s1] == 31.0

        # resumed: the current state is delivered again
        await act(c, p, ctid, "resume")
        await settle((c, p), lambda: state_is(c, ctid, "STARTED") and state_is(p, ptid, "STARTED"))
        await _until(lambda: no2(c, "city"), {s1: 99.0, s2: 12.0})
        [sub] = subscriptions(p, ptid)
        assert sub.active

        # terminated: the subscription is gone, nothing more arrives
        await act(p, c, ptid, "terminate")
        await settle((c, p), lambda: state_is(c, ctid, "TERMINATED"))
        assert subscriptions(p, ptid) == []
        await upsert(p, [air(2, 50.0)])
        await asyncio.sleep(0.3)
        assert (await no2(c, "city"))[s2] == 12.0


async def test_stream_is_pseudonymized_and_stops_when_the_provider_suspends(
    tmp_path: Path,
) -> None:
    async with space(tmp_path) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        await upsert(p, [air(1, 30.0)])
        address = {**ADDRESS, "view": {"pseudonymize": True, "omitAttrs": ["SO2"]}}
        assert (await publish(p, "anon", address)).status_code == 200
        ctid, ptid = await subscribe(c, p, await agree(c, p, "anon"))
        got = await _until_any(lambda: entities(c, "AirQualityObserved"))
        [entity] = got
        assert ":anon-" in entity["id"] and "refDevice" not in entity and "SO2" not in entity
        first = entity["id"]
        await upsert(p, [air(1, 33.0)])
        await _until(lambda: no2(c), {first: 33.0})  # the same pseudonym again

        # the provider suspends (as the policy monitor does): delivery stops at once
        p.connector.transfers.act(ptid, "TransferSuspensionMessage", "policy", "POLICY_VIOLATION")
        assert not subscriptions(p, ptid)[0].active
        p.connector.wake()
        await settle((c, p), lambda: state_is(c, ctid, "SUSPENDED"))
        await upsert(p, [air(1, 1.0)])
        await asyncio.sleep(0.3)
        assert (await no2(c))[first] == 33.0


async def test_writer_processes_filter_a_stream_as_the_server_does(tmp_path: Path) -> None:
    """The provider runs two writer processes: a large batch is split over them, and the
    changes reach the consumer through the same policy filter (same pseudonyms, attributes
    omitted, device references dropped) as those the server process writes."""
    async with space(tmp_path, twin_writers=2) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        await upsert(p, [air(1, 30.0)])  # written by the server process (a small batch)
        address = {**ADDRESS, "view": {"pseudonymize": True, "omitAttrs": ["SO2"]}}
        assert (await publish(p, "anon", address)).status_code == 200
        await subscribe(c, p, await agree(c, p, "anon"))
        [first] = await _until_any(lambda: entities(c, "AirQualityObserved"))

        await upsert(p, [air(n, 40.0 + n / 1000) for n in range(1, 251)])  # through the writers
        got = await _until_count(c, 250)
        assert first["id"] in got and got[first["id"]]["NO2"]["value"] == 40.001
        for entity in got.values():
            assert ":anon-" in entity["id"] and "refDevice" not in entity and "SO2" not in entity
        writers = twin_of(p).status()["writers"]
        assert writers["batches"] == 1 and writers["parts"] == 2
        assert writers["fallbacks"] == 0


async def _until_count(c: Node, count: int) -> dict[str, Any]:
    for _ in range(200):
        got = {e["id"]: e for e in await _all(c)}
        if len(got) >= count:
            return got
        await asyncio.sleep(0.05)
    raise AssertionError(f"the consumer has {len(got)} entities, not {count}")


async def _all(c: Node) -> list[dict[str, Any]]:
    params = {"type": "AirQualityObserved", "limit": 1000}
    r = await c.client.get(f"{NGSI}/entities", params=params, headers=LINK)
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


async def test_streaming_a_non_twin_asset_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "data.csv"
    source.write_text("a,b\n")
    async with space(tmp_path) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        p.add_offer("file", {"type": "File", "path": str(source)})
        agreement = await agree(c, p, "file")
        r = await c.client.post(
            f"{MGMT}/transferprocesses",
            json={
                "contractId": agreement,
                "transferType": "NgsiLd-PUSH",
                "counterPartyAddress": p.dsp,
            },
        )
        tid = r.json()["@id"]
        await settle((c, p), lambda: state_is(c, tid, "TERMINATED"))
        detail = transfer(c, tid).error_detail or ""
        assert "only offered for twin (NgsiLdQuery) assets" in detail, detail
        r = await c.client.post(
            f"{MGMT}/transferprocesses",
            json={"contractId": agreement, "transferType": "HttpData-PULL", "tenant": "x"},
        )
        assert r.status_code == 400 and "tenant" in r.json()[0]["message"]


async def test_the_receiver_checks_token_and_body(tmp_path: Path) -> None:
    async with space(tmp_path) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        assert (await publish(p, "air", ADDRESS)).status_code == 200
        ctid, _ = await subscribe(c, p, await agree(c, p, "air"))
        props = {
            e["name"]: e["value"]
            for e in (transfer(c, ctid).data_destination or {})["endpointProperties"]
        }
        auth = {
            "Authorization": f"Bearer {props['authorization']}",
            "Content-Type": "application/json",
        }
        r = await c.client.post("/public/twin/urn:uuid:other", content=b"{}", headers=auth)
        assert r.status_code == 403
        r = await c.client.post(f"/public/push/{ctid}", content=b"{}", headers=auth)
        assert r.status_code == 403  # a stream token does not open the file receiver
        r = await c.client.post(f"/public/twin/{ctid}", content=b"{", headers=auth)
        assert r.status_code == 400 and "not valid JSON" in r.json()["reason"]
        bad = {"type": "Notification", "data": [{"id": "urn:a:1", "type": "AirQualityObserved"}, 3]}
        r = await c.client.post(f"/public/twin/{ctid}", json=bad, headers=auth)
        assert r.status_code == 400 and "data[1]" in r.json()["reason"]
        assert await entities(c, "AirQualityObserved") == []  # nothing half-applied
        r = await c.client.post(f"/public/twin/{ctid}", content=b"{}")
        assert r.status_code == 401


async def _until(read: Any, expected: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        got = await read()
        if got == expected:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"got {got!r}, expected {expected!r}")
        await asyncio.sleep(0.02)


async def _until_any(read: Any, timeout: float = 5.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        got = await read()
        if got:
            return got
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("nothing arrived")
        await asyncio.sleep(0.02)


__all__ = ["twin_of"]
