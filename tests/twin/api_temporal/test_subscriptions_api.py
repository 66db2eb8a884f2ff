"""The subscription API over HTTP (CIM 009 clauses 5.8, 6.10-6.11): codes and ProblemDetails."""

from __future__ import annotations

from typing import Any

import pytest
from tests.twin.api_temporal.conftest import BASE, CORE, LD, RECEIVER_URI, Broker, problem

SUBS = f"{BASE}/subscriptions"


def sub_body(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "Subscription",
        "entities": [{"type": "Vehicle"}],
        "notification": {"endpoint": {"uri": RECEIVER_URI}},
    }
    body.update(extra)
    return body


async def test_create_answers_201_with_location_and_get_shows_it(broker: Broker) -> None:
    body = sub_body(id="urn:ngsi-ld:Subscription:s1", watchedAttributes=["speed"], q="speed>10")
    response = await broker.client.post(SUBS, json=body)
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"{SUBS}/urn:ngsi-ld:Subscription:s1"
    got = await broker.client.get(f"{SUBS}/urn:ngsi-ld:Subscription:s1")
    assert got.status_code == 200
    sub = got.json()
    assert sub["id"] == "urn:ngsi-ld:Subscription:s1"
    assert sub["type"] == "Subscription"
    assert sub["entities"] == [{"type": "Vehicle"}]
    assert sub["watchedAttributes"] == ["speed"]
    assert sub["q"] == "speed>10"
    assert sub["isActive"] is True
    assert sub["status"] == "active"
    assert sub["notification"]["endpoint"]["uri"] == RECEIVER_URI
    assert sub["notification"]["format"] == "normalized"
    assert sub["notification"]["timesSent"] == 0
    assert 'rel="http://www.w3.org/ns/json-ld#context"' in got.headers["Link"]


async def test_create_without_id_generates_one(broker: Broker) -> None:
    response = await broker.client.post(SUBS, json=sub_body())
    assert response.status_code == 201
    sub_id = response.headers["Location"].rsplit("/", 1)[1]
    assert sub_id.startswith("urn:ngsi-ld:Subscription:")
    assert (await broker.client.get(f"{SUBS}/{sub_id}")).status_code == 200


async def test_json_ld_body_and_accept(broker: Broker) -> None:
    body = {**sub_body(id="urn:ngsi-ld:Subscription:ld"), "@context": CORE}
    response = await broker.client.post(SUBS, json=body, headers={"Content-Type": LD})
    assert response.status_code == 201, response.text
    got = await broker.client.get(f"{SUBS}/urn:ngsi-ld:Subscription:ld", headers={"Accept": LD})
    assert got.headers["content-type"].startswith(LD)
    assert got.json()["@context"] == CORE


async def test_duplicate_id_is_409_already_exists(broker: Broker) -> None:
    body = sub_body(id="urn:ngsi-ld:Subscription:dup")
    assert (await broker.client.post(SUBS, json=body)).status_code == 201
    problem(await broker.client.post(SUBS, json=body), 409, "AlreadyExists")


@pytest.mark.parametrize(
    "change",
    [
        {"id": "not a uri"},
        {"id": ""},
        {"type": "Subscriptions"},
        {"entities": []},
        {"entities": [{"id": "urn:ngsi-ld:Vehicle:1"}]},
        {"entities": [{"type": "Vehicle", "idPattern": "(["}]},
        {"entities": None, "watchedAttributes": None},
        {"watchedAttributes": []},
        {"notification": None},
        {"notification": {"endpoint": {"uri": "not a uri"}}},
        {"notification": {"endpoint": {"uri": "ftp://x.test/n"}}},
        {"notification": {"endpoint": {"uri": RECEIVER_URI, "accept": "text/plain"}}},
        {"notification": {"endpoint": {"uri": RECEIVER_URI}, "format": "weird"}},
        {"notification": {"endpoint": {"uri": RECEIVER_URI}, "attributes": []}},
        {"q": "speed>>"},
        {"geoQ": {"georel": "near;maxDistance==10", "geometry": "Point"}},
        {"geoQ": {"georel": "nearby", "geometry": "Point", "coordinates": [1, 2]}},
        {"expiresAt": "2000-01-01T00:00:00Z"},
        {"expiresAt": "tomorrow"},
        {"throttling": -1},
        {"throttling": "5"},
        {"isActive": "yes"},
        {"notificationTrigger": ["entityExploded"]},
        {"timeInterval": 10, "throttling": 30},
        {"timeInterval": 10, "watchedAttributes": ["speed"]},
        {"timeInterval": -1},
    ],
)
async def test_invalid_subscriptions_are_400_bad_request_data(
    broker: Broker, change: dict[str, Any]
) -> None:
    body = sub_body()
    for key, value in change.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    problem(await broker.client.post(SUBS, json=body), 400, "BadRequestData")


async def test_invalid_json_is_400_invalid_request(broker: Broker) -> None:
    response = await broker.client.post(
        SUBS, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    problem(response, 400, "InvalidRequest")


async def test_wrong_content_type_is_415(broker: Broker) -> None:
    response = await broker.client.post(
        SUBS, content=b"<x/>", headers={"Content-Type": "application/xml"}
    )
    assert response.status_code == 415


async def test_unsupported_features_are_operation_not_supported(broker: Broker) -> None:
    for change in (
        {"timeInterval": 10},
        {"notification": {"endpoint": {"uri": "mqtt://broker.test:1883/topic"}}},
    ):
        body = {**sub_body(), **change}
        problem(await broker.client.post(SUBS, json=body), 422, "OperationNotSupported")


async def test_list_pages_and_counts(broker: Broker) -> None:
    for i in range(5):
        body = sub_body(id=f"urn:ngsi-ld:Subscription:{i}")
        assert (await broker.client.post(SUBS, json=body)).status_code == 201
    everything = await broker.client.get(SUBS, params={"count": "true"})
    assert everything.status_code == 200
    assert everything.headers["NGSILD-Results-Count"] == "5"
    assert len(everything.json()) == 5
    page = await broker.client.get(SUBS, params={"limit": 2, "offset": 1})
    ids = [s["id"] for s in page.json()]
    assert ids == [s["id"] for s in everything.json()][1:3]
    assert "NGSILD-Results-Count" not in page.headers
    only_count = await broker.client.get(SUBS, params={"limit": 0, "count": "true"})
    assert only_count.status_code == 200
    assert only_count.json() == []
    assert only_count.headers["NGSILD-Results-Count"] == "5"
    problem(await broker.client.get(SUBS, params={"limit": -1}), 400, "BadRequestData")
    problem(await broker.client.get(SUBS, params={"limit": "x"}), 400, "BadRequestData")
    problem(await broker.client.get(SUBS, params={"limit": 5000}), 403, "TooManyResults")


async def test_patch_pauses_and_changes(broker: Broker) -> None:
    await broker.client.post(SUBS, json=sub_body(id="urn:ngsi-ld:Subscription:p"))
    url = f"{SUBS}/urn:ngsi-ld:Subscription:p"
    response = await broker.client.patch(url, json={"isActive": False, "throttling": 5})
    assert response.status_code == 204, response.text
    sub = (await broker.client.get(url)).json()
    assert sub["isActive"] is False
    assert sub["status"] == "paused"
    assert sub["throttling"] == 5
    assert (await broker.client.patch(url, json={"isActive": True})).status_code == 204
    assert (await broker.client.get(url)).json()["status"] == "active"
    response = await broker.client.patch(
        url, json={"notification": {"format": "keyValues", "attributes": ["speed"]}}
    )
    assert response.status_code == 204
    note = (await broker.client.get(url)).json()["notification"]
    assert note["format"] == "keyValues"
    assert note["attributes"] == ["speed"]
    assert note["endpoint"]["uri"] == RECEIVER_URI


async def test_patch_errors(broker: Broker) -> None:
    await broker.client.post(SUBS, json=sub_body(id="urn:ngsi-ld:Subscription:e"))
    url = f"{SUBS}/urn:ngsi-ld:Subscription:e"
    problem(await broker.client.patch(url, json={"notification": None}), 400, "BadRequestData")
    problem(
        await broker.client.patch(url, json={"expiresAt": "2000-01-01T00:00:00Z"}),
        400,
        "BadRequestData",
    )
    problem(await broker.client.patch(url, json={}), 400, "BadRequestData")
    problem(
        await broker.client.patch(url, json={"id": "urn:ngsi-ld:Subscription:other"}),
        400,
        "BadRequestData",
    )
    problem(
        await broker.client.patch(f"{SUBS}/urn:ngsi-ld:Subscription:none", json={"q": "a>1"}),
        404,
        "ResourceNotFound",
    )


async def test_delete_then_404(broker: Broker) -> None:
    await broker.client.post(SUBS, json=sub_body(id="urn:ngsi-ld:Subscription:d"))
    url = f"{SUBS}/urn:ngsi-ld:Subscription:d"
    assert (await broker.client.delete(url)).status_code == 204
    problem(await broker.client.get(url), 404, "ResourceNotFound")
    problem(await broker.client.delete(url), 404, "ResourceNotFound")
    problem(await broker.client.patch(url, json={"q": "a>1"}), 404, "ResourceNotFound")


async def test_invalid_ids_in_the_path_are_400(broker: Broker) -> None:
    url = f"{SUBS}/not-a-uri"
    problem(await broker.client.get(url), 400, "BadRequestData")
    problem(await broker.client.delete(url), 400, "BadRequestData")
    problem(await broker.client.patch(url, json={"q": "a>1"}), 400, "BadRequestData")


async def test_expired_subscription_shows_expired(broker: Broker) -> None:
    body = sub_body(id="urn:ngsi-ld:Subscription:x", expiresAt="2026-01-01T01:00:00Z")
    assert (await broker.client.post(SUBS, json=body)).status_code == 201
    url = f"{SUBS}/urn:ngsi-ld:Subscription:x"
    sub = (await broker.client.get(url)).json()
    assert sub["status"] == "active"
    assert sub["expiresAt"].startswith("2026-01-01T01:00:00")
    broker.clock.advance(2 * 3600)
    assert (await broker.client.get(url)).json()["status"] == "expired"


async def test_sys_attrs_and_context_compaction(broker: Broker) -> None:
    link = f'<{CORE}>; rel="http://www.w3.org/ns/json-ld#context"; type="{LD}"'
    body = sub_body(id="urn:ngsi-ld:Subscription:c", watchedAttributes=["speed"])
    await broker.client.post(SUBS, json=body)
    url = f"{SUBS}/urn:ngsi-ld:Subscription:c"
    sub = (await broker.client.get(url, params={"options": "sysAttrs"})).json()
    assert sub["createdAt"].startswith("2026-01-01T00:00:00")
    assert "modifiedAt" in sub
    compact = (await broker.client.get(url, headers={"Link": link})).json()
    assert compact["watchedAttributes"] == ["speed"]


async def test_tenants_are_separate(broker: Broker) -> None:
    tenant = {"NGSILD-Tenant": "city"}
    body = sub_body(id="urn:ngsi-ld:Subscription:t")
    assert (await broker.client.post(SUBS, json=body, headers=tenant)).status_code == 201
    assert (
        await broker.client.get(f"{SUBS}/urn:ngsi-ld:Subscription:t", headers=tenant)
    ).status_code == 200
    problem(await broker.client.get(f"{SUBS}/urn:ngsi-ld:Subscription:t"), 404, "ResourceNotFound")
    assert (await broker.client.get(SUBS)).json() == []
    problem(
        await broker.client.get(SUBS, headers={"NGSILD-Tenant": "nowhere"}),
        404,
        "NonexistentTenant",
    )
    listed = await broker.client.get(SUBS, headers=tenant)
    assert [s["id"] for s in listed.json()] == ["urn:ngsi-ld:Subscription:t"]
