"""Batch entity operations over HTTP (CIM 009 clauses 6.14-6.18, 6.31), on SQLite and
PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.twin.api.conftest import BASE, ERRORS, Broker, BrokerFactory, assert_problem

OPS = f"{BASE}/entityOperations"


@pytest.fixture
async def make_broker(make_store_broker: BrokerFactory) -> BrokerFactory:
    """This module's behaviour depends on the store: every test runs on SQLite and PostgreSQL."""
    return make_store_broker


def car(n: int, **attrs: Any) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Car:{n}",
        "type": "Car",
        "speed": {"type": "Property", "value": n},
        **attrs,
    }


async def ids_of(client: httpx.AsyncClient, **params: str) -> list[str]:
    response = await client.get(
        f"{BASE}/entities", params={"type": "Car", "limit": "1000", **params}
    )
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()]


def error_ids(result: dict[str, Any]) -> list[str]:
    return [e["entityId"] for e in result["errors"]]


# --- create -----------------------------------------------------------------------------------


async def test_batch_create_201_with_ids(broker: Broker) -> None:
    response = await broker.client.post(f"{OPS}/create", json=[car(1), car(2)])
    assert response.status_code == 201, response.text
    assert response.json() == ["urn:ngsi-ld:Car:1", "urn:ngsi-ld:Car:2"]
    assert await ids_of(broker.client) == ["urn:ngsi-ld:Car:1", "urn:ngsi-ld:Car:2"]


async def test_batch_create_mixed_is_207(broker: Broker) -> None:
    await broker.create(car(1))
    response = await broker.client.post(
        f"{OPS}/create", json=[car(1), car(2), {"id": "bad id", "type": "Car"}, 7]
    )
    assert response.status_code == 207, response.text
    result = response.json()
    assert result["success"] == ["urn:ngsi-ld:Car:2"]
    assert set(error_ids(result)) == {"urn:ngsi-ld:Car:1", "bad id", ""}
    kinds = {e["entityId"]: e["error"]["type"] for e in result["errors"]}
    assert kinds["urn:ngsi-ld:Car:1"] == ERRORS + "AlreadyExists"
    assert kinds["bad id"] == ERRORS + "BadRequestData"
    for error in result["errors"]:
        assert error["error"]["title"] and error["error"]["status"] in (400, 409)
    assert len(result["errors"]) == 3
    assert await ids_of(broker.client) == ["urn:ngsi-ld:Car:1", "urn:ngsi-ld:Car:2"]


async def test_batch_create_all_failed_is_207(broker: Broker) -> None:
    await broker.create(car(1))
    response = await broker.client.post(f"{OPS}/create", json=[car(1)])
    assert response.status_code == 207, response.text
    assert response.json()["success"] == []
    assert error_ids(response.json()) == ["urn:ngsi-ld:Car:1"]


async def test_batch_create_duplicate_ids_within_batch(broker: Broker) -> None:
    response = await broker.client.post(f"{OPS}/create", json=[car(1), car(2), car(1)])
    assert response.status_code == 207, response.text
    result = response.json()
    assert result["success"] == ["urn:ngsi-ld:Car:1", "urn:ngsi-ld:Car:2"]
    assert error_ids(result) == ["urn:ngsi-ld:Car:1"]
    assert result["errors"][0]["error"]["type"] == ERRORS + "AlreadyExists"


async def test_batch_empty_is_400(broker: Broker) -> None:
    for op in ("create", "upsert", "update", "merge", "delete"):
        response = await broker.client.post(f"{OPS}/{op}", json=[])
        assert_problem(response, 400, "InvalidRequest")  # as the ETSI suite's EmptyJson cases


async def test_batch_non_array_body_is_400_invalid_request(broker: Broker) -> None:
    for op in ("create", "upsert", "update", "merge", "delete"):
        response = await broker.client.post(f"{OPS}/{op}", json=car(1))
        assert_problem(response, 400, "InvalidRequest")


async def test_batch_invalid_json_is_400_invalid_request(broker: Broker) -> None:
    response = await broker.client.post(
        f"{OPS}/create", content=b"[{]", headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400, "InvalidRequest")


async def test_batch_of_10000_is_accepted_and_larger_refused(broker: Broker) -> None:
    many = [{"id": f"urn:ngsi-ld:Car:{n}", "type": "Car", "speed": n} for n in range(10_000)]
    response = await broker.client.post(f"{OPS}/create", json=many)
    assert response.status_code == 201, response.text[:500]
    assert len(response.json()) == 10_000
    counted = await broker.client.get(
        f"{BASE}/entities", params={"type": "Car", "count": "true", "limit": "0"}
    )
    assert counted.headers["NGSILD-Results-Count"] == "10000"
    too_many = [*many, {"id": "urn:ngsi-ld:Car:extra", "type": "Car"}]
    response = await broker.client.post(f"{OPS}/upsert", json=too_many)
    assert_problem(response, 400, "BadRequestData")


# --- upsert -----------------------------------------------------------------------------------


async def test_upsert_created_only_is_201_with_created_ids(broker: Broker) -> None:
    response = await broker.client.post(f"{OPS}/upsert", json=[car(1), car(2)])
    assert response.status_code == 201, response.text
    assert response.json() == ["urn:ngsi-ld:Car:1", "urn:ngsi-ld:Car:2"]


async def test_upsert_mixed_created_and_updated_is_201_with_created_ids_only(
    broker: Broker,
) -> None:
    await broker.create(car(1))
    response = await broker.client.post(f"{OPS}/upsert", json=[car(1), car(2)])
    assert response.status_code == 201, response.text
    assert response.json() == ["urn:ngsi-ld:Car:2"]


async def test_upsert_only_updates_is_204(broker: Broker) -> None:
    await broker.create(car(1))
    response = await broker.client.post(f"{OPS}/upsert", json=[car(1)])
    assert response.status_code == 204, response.text
    assert response.content == b""


async def test_upsert_replace_mode_drops_missing_attributes(broker: Broker) -> None:
    await broker.create(car(1, colour={"type": "Property", "value": "red"}))
    response = await broker.client.post(
        f"{OPS}/upsert", params={"options": "replace"}, json=[car(1, speed=99)]
    )
    assert response.status_code == 204, response.text
    body = await broker.get("urn:ngsi-ld:Car:1")
    assert "colour" not in body and body["speed"]["value"] == 99


async def test_upsert_update_mode_keeps_other_attributes(broker: Broker) -> None:
    await broker.create(car(1, colour={"type": "Property", "value": "red"}))
    response = await broker.client.post(
        f"{OPS}/upsert", params={"options": "update"}, json=[car(1, speed=99)]
    )
    assert response.status_code == 204, response.text
    body = await broker.get("urn:ngsi-ld:Car:1")
    assert body["colour"]["value"] == "red" and body["speed"]["value"] == 99


async def test_upsert_same_id_twice_is_201(broker: Broker) -> None:
    response = await broker.client.post(
        f"{OPS}/upsert", params={"options": "update"}, json=[car(1), car(1, colour="red")]
    )
    assert response.status_code == 201, response.text
    assert response.json() == ["urn:ngsi-ld:Car:1"]
    body = await broker.get("urn:ngsi-ld:Car:1")
    assert body["colour"]["value"] == "red" and body["speed"]["value"] == 1


async def test_upsert_mixed_valid_invalid_is_207(broker: Broker) -> None:
    response = await broker.client.post(f"{OPS}/upsert", json=[car(1), {"id": "urn:ngsi-ld:Car:2"}])
    assert response.status_code == 207, response.text
    result = response.json()
    assert result["success"] == ["urn:ngsi-ld:Car:1"]
    assert error_ids(result) == ["urn:ngsi-ld:Car:2"]
    assert result["errors"][0]["error"]["type"] == ERRORS + "BadRequestData"


async def test_upsert_both_modes_is_400(broker: Broker) -> None:
    response = await broker.client.post(
        f"{OPS}/upsert", params={"options": "replace,update"}, json=[car(1)]
    )
    assert_problem(response, 400, "BadRequestData")


# --- update, merge, delete --------------------------------------------------------------------


async def test_batch_update_204_and_207(broker: Broker) -> None:
    await broker.create(car(1))
    response = await broker.client.post(f"{OPS}/update", json=[car(1, speed=5)])
    assert response.status_code == 204, response.text
    assert (await broker.get("urn:ngsi-ld:Car:1"))["speed"]["value"] == 5
    response = await broker.client.post(f"{OPS}/update", json=[car(1, speed=6), car(2)])
    assert response.status_code == 207, response.text
    result = response.json()
    assert result["success"] == ["urn:ngsi-ld:Car:1"]
    assert error_ids(result) == ["urn:ngsi-ld:Car:2"]
    assert result["errors"][0]["error"]["type"] == ERRORS + "ResourceNotFound"


async def test_batch_update_no_overwrite(broker: Broker) -> None:
    await broker.create(car(1))
    response = await broker.client.post(
        f"{OPS}/update",
        params={"options": "noOverwrite"},
        json=[car(1, speed=5, colour={"type": "Property", "value": "red"})],
    )
    assert response.status_code == 204, response.text
    body = await broker.get("urn:ngsi-ld:Car:1")
    assert body["speed"]["value"] == 1 and body["colour"]["value"] == "red"


async def test_batch_merge(broker: Broker) -> None:
    await broker.create(car(1, colour={"type": "Property", "value": "red"}, seats=4))
    response = await broker.client.post(
        f"{OPS}/merge",
        json=[{"id": "urn:ngsi-ld:Car:1", "type": "Car", "colour": "urn:ngsi-ld:null", "seats": 5}],
    )
    assert response.status_code == 204, response.text
    body = await broker.get("urn:ngsi-ld:Car:1")
    assert "colour" not in body and body["seats"]["value"] == 5 and body["speed"]["value"] == 1
    response = await broker.client.post(f"{OPS}/merge", json=[car(9)])
    assert response.status_code == 207, response.text
    assert error_ids(response.json()) == ["urn:ngsi-ld:Car:9"]


async def test_batch_delete(broker: Broker) -> None:
    await broker.client.post(f"{OPS}/create", json=[car(1), car(2), car(3)])
    response = await broker.client.post(
        f"{OPS}/delete", json=["urn:ngsi-ld:Car:1", "urn:ngsi-ld:Car:2"]
    )
    assert response.status_code == 204, response.text
    assert await ids_of(broker.client) == ["urn:ngsi-ld:Car:3"]
    response = await broker.client.post(
        f"{OPS}/delete", json=["urn:ngsi-ld:Car:3", "urn:ngsi-ld:Car:3", "urn:ngsi-ld:Car:4", 5]
    )
    assert response.status_code == 207, response.text
    result = response.json()
    assert result["success"] == ["urn:ngsi-ld:Car:3"]
    kinds = [(e["entityId"], e["error"]["type"]) for e in result["errors"]]
    assert ("urn:ngsi-ld:Car:4", ERRORS + "ResourceNotFound") in kinds
    assert ("urn:ngsi-ld:Car:3", ERRORS + "ResourceNotFound") in kinds
    assert len(kinds) == 3


async def test_batch_with_tenant(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    tenant = {"NGSILD-Tenant": "fleet"}
    response = await broker.client.post(f"{OPS}/create", json=[car(1)], headers=tenant)
    assert response.status_code == 201, response.text
    assert await ids_of(broker.client) == []
    response = await broker.client.get(f"{BASE}/entities", params={"type": "Car"}, headers=tenant)
    assert [e["id"] for e in response.json()] == ["urn:ngsi-ld:Car:1"]
