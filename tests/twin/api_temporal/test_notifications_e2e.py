"""Notifications delivered over HTTP to a real in-process receiver (CIM 009 clauses 5.8.6, 7.2).

Every change goes through the broker's HTTP API; the notifier's ``deliver_due()`` is called
directly (what its loop does when woken) and time is moved with the ManualClock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tests.twin.api_temporal.conftest import BASE, CORE, LD, RECEIVER_URI, Broker

VEHICLE = "urn:ngsi-ld:Vehicle:v1"
CONTEXT_LINK = f'<{CORE}>; rel="http://www.w3.org/ns/json-ld#context"; type="{LD}"'


def vehicle(entity_id: str = VEHICLE, speed: float = 10, **attrs: Any) -> dict[str, Any]:
    return {
        "id": entity_id,
        "type": "Vehicle",
        "speed": {"type": "Property", "value": speed},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [2, 40]}},
        "@context": CORE,
        **attrs,
    }


def sub(**extra: Any) -> dict[str, Any]:
    note = extra.pop("notification", {})
    endpoint = note.pop("endpoint", {})
    return {
        "entities": [{"type": "Vehicle"}],
        "notification": {"endpoint": {"uri": RECEIVER_URI, **endpoint}, **note},
        **extra,
    }


async def patch_speed(broker: Broker, value: float, entity_id: str = VEHICLE) -> None:
    response = await broker.client.patch(
        f"{BASE}/entities/{entity_id}/attrs", json={"speed": {"type": "Property", "value": value}}
    )
    assert response.status_code == 204, response.text


async def test_create_update_delete_as_triggers_say(broker: Broker) -> None:
    default = await broker.subscribe(sub())
    deletes = await broker.subscribe(sub(notificationTrigger=["entityDeleted"]))
    await broker.create(vehicle())
    assert await broker.deliver() == 1
    [note] = broker.receiver.bodies
    assert note["type"] == "Notification"
    assert note["subscriptionId"] == default
    assert note["id"].startswith("urn:ngsi-ld:Notification:")
    assert note["notifiedAt"].startswith("2026-01-01T00:00:00")
    assert note["data"][0]["id"] == VEHICLE
    assert note["data"][0]["speed"] == {"type": "Property", "value": 10}
    broker.receiver.clear()
    await patch_speed(broker, 20)
    assert await broker.deliver() == 1
    assert broker.receiver.bodies[0]["data"][0]["speed"]["value"] == 20
    broker.receiver.clear()
    assert (await broker.client.delete(f"{BASE}/entities/{VEHICLE}")).status_code == 204
    assert await broker.deliver() == 1
    [gone] = broker.receiver.bodies
    assert gone["subscriptionId"] == deletes
    assert gone["data"][0]["id"] == VEHICLE


async def test_nothing_changed_notifies_nothing(broker: Broker) -> None:
    await broker.create(vehicle())
    await broker.subscribe(sub())
    await patch_speed(broker, 10)
    assert await broker.deliver() == 0
    assert broker.receiver.received == []


async def test_watched_attributes(broker: Broker) -> None:
    await broker.create(vehicle(brand={"type": "Property", "value": "A"}))
    await broker.subscribe(sub(watchedAttributes=["speed"]))
    response = await broker.client.patch(
        f"{BASE}/entities/{VEHICLE}/attrs", json={"brand": {"type": "Property", "value": "B"}}
    )
    assert response.status_code == 204
    assert await broker.deliver() == 0
    await patch_speed(broker, 30)
    assert await broker.deliver() == 1
    assert broker.receiver.bodies[0]["data"][0]["brand"]["value"] == "B"


async def test_watched_attributes_without_entities(broker: Broker) -> None:
    await broker.subscribe(
        {"watchedAttributes": ["speed"], **{"notification": sub()["notification"]}}
    )
    await broker.create(vehicle())
    assert await broker.deliver() == 1


async def test_q_and_geo_q_filters(broker: Broker) -> None:
    await broker.subscribe(sub(q="speed>50"))
    near = {"georel": "near;maxDistance==2000", "geometry": "Point", "coordinates": [2, 40]}
    geo_sub = await broker.subscribe(sub(geoQ=near))
    await broker.create(
        vehicle(
            "urn:ngsi-ld:Vehicle:far",
            speed=60,
            location={"type": "GeoProperty", "value": {"type": "Point", "coordinates": [3, 41]}},
        )
    )
    await broker.deliver()
    assert [b["data"][0]["id"] for b in broker.receiver.bodies] == ["urn:ngsi-ld:Vehicle:far"]
    broker.receiver.clear()
    await broker.create(vehicle(speed=5))
    await broker.deliver()
    assert [(b["subscriptionId"], b["data"][0]["id"]) for b in broker.receiver.bodies] == [
        (geo_sub, VEHICLE)
    ]


async def test_formats_and_attributes(broker: Broker) -> None:
    kv = await broker.subscribe(sub(notification={"format": "keyValues", "attributes": ["speed"]}))
    concise = await broker.subscribe(sub(notification={"format": "concise"}))
    await broker.create(vehicle(speed=12))
    await broker.deliver()
    by_sub = {b["subscriptionId"]: b["data"][0] for b in broker.receiver.bodies}
    assert by_sub[kv] == {"id": VEHICLE, "type": "Vehicle", "speed": 12}
    assert by_sub[concise]["speed"] == 12  # a bare value is a concise Property
    location = by_sub[concise]["location"]
    assert location.get("value", location)["type"] == "Point"


async def test_link_header_or_json_ld_as_accept_says(broker: Broker) -> None:
    await broker.subscribe(sub(notification={"endpoint": {"accept": "application/json"}}))
    await broker.subscribe(sub(notification={"endpoint": {"accept": LD}}))
    await broker.create(vehicle())
    await broker.deliver()
    by_type = {d.headers["content-type"]: d for d in broker.receiver.received}
    plain, ld = by_type["application/json"], by_type[LD]
    assert plain.headers["link"] == CONTEXT_LINK
    assert "@context" not in plain.body["data"][0]
    assert "link" not in ld.headers
    assert ld.body["data"][0]["@context"] == CORE


async def test_receiver_info_headers_and_tenant(broker: Broker) -> None:
    info = [{"key": "X-Auth-Token", "value": "secret"}, {"key": "X-Origin", "value": "twin"}]
    tenant = {"NGSILD-Tenant": "city"}
    await broker.subscribe(sub(notification={"endpoint": {"receiverInfo": info}}), **tenant)
    await broker.create(vehicle(), **tenant)
    await broker.create(vehicle("urn:ngsi-ld:Vehicle:default-tenant"))
    assert await broker.deliver() == 1
    [delivery] = broker.receiver.received
    assert delivery.headers["x-auth-token"] == "secret"
    assert delivery.headers["x-origin"] == "twin"
    assert delivery.headers["ngsild-tenant"] == "city"
    assert delivery.body["data"][0]["id"] == VEHICLE


async def test_paused_and_expired_subscriptions_are_quiet(broker: Broker) -> None:
    paused = await broker.subscribe(sub(isActive=False))
    await broker.subscribe(sub(expiresAt="2026-01-01T00:10:00Z"))
    broker.clock.advance(3600)
    await broker.create(vehicle())
    assert await broker.deliver() == 0
    response = await broker.client.patch(f"{BASE}/subscriptions/{paused}", json={"isActive": True})
    assert response.status_code == 204
    await patch_speed(broker, 40)
    assert await broker.deliver() == 1
    assert broker.receiver.bodies[0]["subscriptionId"] == paused


async def test_pausing_drops_what_is_queued(broker: Broker) -> None:
    sub_id = await broker.subscribe(sub())
    await broker.create(vehicle())
    await broker.client.patch(f"{BASE}/subscriptions/{sub_id}", json={"isActive": False})
    await broker.deliver()
    assert broker.receiver.received == []


async def test_throttling_coalesces_latest_state_nothing_lost(broker: Broker) -> None:
    sub_id = await broker.subscribe(sub(throttling=10))
    await broker.create(vehicle())
    assert await broker.deliver() == 1
    broker.clock.advance(1)
    await patch_speed(broker, 11)
    await broker.create(vehicle("urn:ngsi-ld:Vehicle:v2", speed=5))
    broker.clock.advance(1)
    await patch_speed(broker, 12)
    assert await broker.deliver() == 0  # inside the 10 s window
    assert len(broker.receiver.received) == 1
    broker.clock.advance(8)
    assert await broker.deliver() == 3
    assert len(broker.receiver.received) == 2
    data = {e["id"]: e["speed"]["value"] for e in broker.receiver.bodies[1]["data"]}
    assert data == {VEHICLE: 12, "urn:ngsi-ld:Vehicle:v2": 5}
    status = (await broker.client.get(f"{BASE}/subscriptions/{sub_id}")).json()
    assert status["notification"]["timesSent"] == 2


async def test_failing_receiver_retries_with_backoff_then_recovers(broker: Broker) -> None:
    sub_id = await broker.subscribe(sub())
    url = f"{BASE}/subscriptions/{sub_id}"
    broker.receiver.failing = True
    await broker.create(vehicle())
    assert await broker.deliver() == 1
    note = (await broker.client.get(url)).json()["notification"]
    assert note["status"] == "failed"
    assert note["timesFailed"] == 1
    assert note["lastFailure"].startswith("2026-01-01T00:00:00")
    assert "lastSuccess" not in note
    assert await broker.deliver() == 0  # backing off: not yet due
    broker.clock.advance(1.5)
    assert await broker.deliver() == 1  # second attempt fails too
    assert (await broker.client.get(url)).json()["notification"]["timesFailed"] == 2
    broker.clock.advance(1.5)
    assert await broker.deliver() == 0  # the delay grew
    broker.receiver.failing = False
    broker.clock.advance(60)
    assert await broker.deliver() == 1
    note = (await broker.client.get(url)).json()["notification"]
    assert note["status"] == "ok"
    assert note["timesSent"] == 3
    assert note["timesFailed"] == 2
    assert note["lastSuccess"] > note["lastFailure"]
    assert [d.body["data"][0]["id"] for d in broker.receiver.received] == [VEHICLE] * 3


async def test_batch_upsert_notifies_once_per_subscription(broker: Broker) -> None:
    first = await broker.subscribe(sub())
    second = await broker.subscribe(sub(notification={"format": "keyValues"}))
    batch = [vehicle(f"urn:ngsi-ld:Vehicle:b{i}", speed=i) for i in range(5)]
    response = await broker.client.post(
        f"{BASE}/entityOperations/upsert", json=batch, headers={"Content-Type": LD}
    )
    assert response.status_code == 201, response.text
    assert await broker.deliver() == 2
    by_sub = {b["subscriptionId"]: b for b in broker.receiver.bodies}
    assert set(by_sub) == {first, second}
    assert len(by_sub[first]["data"]) == 5
    assert sorted(e["speed"] for e in by_sub[second]["data"]) == [0, 1, 2, 3, 4]


async def test_deleted_subscription_gets_nothing(broker: Broker) -> None:
    sub_id = await broker.subscribe(sub())
    await broker.create(vehicle())
    assert (await broker.client.delete(f"{BASE}/subscriptions/{sub_id}")).status_code == 204
    await broker.deliver()
    assert broker.receiver.received == []


async def test_twin_upsert_path_notifies(broker: Broker) -> None:
    """What the MQTT ingest calls (``Twin.upsert``) notifies like the HTTP API."""
    await broker.subscribe(sub())
    result = await broker.twin.upsert("", [vehicle()], [CORE])
    assert result.success == [VEHICLE]
    assert await broker.deliver() == 1
    assert broker.receiver.bodies[0]["data"][0]["id"] == VEHICLE


async def wait_for(condition: Callable[[], bool], limit: float = 10.0) -> None:
    """Until ``condition`` holds (never a timing assertion: ``limit`` only bounds a hang)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        assert loop.time() < deadline, "gave up waiting"
        await asyncio.sleep(0.01)


async def test_a_committed_http_write_wakes_the_notifier(broker: Broker) -> None:
    notifier = broker.twin.notifier
    notifier._loop = asyncio.get_running_loop()  # as its running loop would
    await broker.subscribe(sub())
    assert not notifier._wake.is_set()
    await broker.create(vehicle())
    await wait_for(notifier._wake.is_set)


async def test_the_running_loop_delivers(broker: Broker) -> None:
    await broker.subscribe(sub())
    async with broker.twin.running():
        await broker.create(vehicle())
        await wait_for(lambda: len(broker.receiver.received) == 1)
    assert broker.receiver.bodies[0]["data"][0]["id"] == VEHICLE
