"""The participant app with writer processes (TWINSPACE_TWIN_WRITERS): batches through HTTP are
split over them, small ones stay in the server process, and the management API shows them."""

from __future__ import annotations

from typing import Any

from tests.twin.api.conftest import BASE, SDM_CONTEXT, BrokerFactory, link

from twinspace.store.twin_rows import SubscriptionRow


def air(n: int, no2: float) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:AirQualityObserved:w{n:04d}",
        "type": "AirQualityObserved",
        "dateObserved": {"type": "Property", "value": "2026-11-25T08:00:00Z"},
        "NO2": {"type": "Property", "value": no2, "unitCode": "GQ"},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [2.1, n / 1e3]},
        },
    }


async def test_large_batches_go_to_the_writers(make_store_broker: BrokerFactory) -> None:
    broker = await make_store_broker(twin_writers=2)
    url = f"{BASE}/entityOperations/upsert"
    batch = [air(n, n) for n in range(300)] + [{**air(7, 1), "NO2": {"type": "Property"}}]
    created = await broker.client.post(url, json=batch, headers=link(SDM_CONTEXT))
    assert created.status_code == 207, created.text  # one refused, the rest created
    body = created.json()
    assert body["success"] == [f"urn:ngsi-ld:AirQualityObserved:w{n:04d}" for n in range(300)]
    assert [e["entityId"] for e in body["errors"]] == ["urn:ngsi-ld:AirQualityObserved:w0007"]

    updated = await broker.client.post(
        url, json=[air(n, n + 0.5) for n in range(300)], headers=link(SDM_CONTEXT)
    )
    assert updated.status_code == 204, updated.text
    got = await broker.get("urn:ngsi-ld:AirQualityObserved:w0123", headers=link(SDM_CONTEXT))
    assert got["NO2"]["value"] == 123.5
    small = await broker.client.post(url, json=[air(1, 3)], headers=link(SDM_CONTEXT))
    assert small.status_code == 204, small.text  # one entity: written in the server process

    status = (await broker.client.get("/management/v3/twin")).json()
    writers = status["writers"]
    assert writers["writers"] == 2 and writers["alive"] == 2 and len(writers["pids"]) == 2
    assert writers["batches"] == 2 and writers["fallbacks"] == 0 and writers["lastError"] is None
    count = await broker.client.get(
        f"{BASE}/entities",
        params={"type": "AirQualityObserved", "count": "true", "limit": 0},
        headers=link(SDM_CONTEXT),
    )
    assert count.headers["NGSILD-Results-Count"] == "300"


async def test_writers_take_batches_of_a_tenant_with_a_data_space_subscription(
    make_broker: BrokerFactory,
) -> None:
    broker = await make_broker(twin_writers=2)
    moment = broker.clock.now()
    doc = {"id": "urn:ngsi-ld:Subscription:shared", "type": "Subscription"}
    row = SubscriptionRow(
        id=doc["id"], tenant="", doc=doc, created_at=moment, modified_at=moment, owner="transfer:t"
    )
    with broker.twin.store.transaction() as tx:
        tx.twin_subscriptions.add(row)
    url = f"{BASE}/entityOperations/upsert"
    response = await broker.client.post(
        url, json=[air(n, n) for n in range(250)], headers=link(SDM_CONTEXT)
    )
    assert response.status_code == 201, response.text
    writers = (await broker.client.get("/management/v3/twin")).json()["writers"]
    assert writers["batches"] == 1 and writers["fallbacks"] == 0  # they hold the same filter


async def test_without_writers_the_status_says_so(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    status = (await broker.client.get("/management/v3/twin")).json()
    assert status["writers"] is None
