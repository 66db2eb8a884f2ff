"""Available entity types and attributes over HTTP (CIM 009 clauses 6.25-6.28), on SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest
from tests.twin.api.conftest import BASE, Broker, assert_problem

ENTITIES = [
    {
        "id": "urn:ngsi-ld:Car:1",
        "type": "Car",
        "speed": {"type": "Property", "value": 1},
        "driver": {"type": "Relationship", "object": "urn:ngsi-ld:Person:1"},
    },
    {"id": "urn:ngsi-ld:Car:2", "type": "Car", "speed": {"type": "Property", "value": 2}},
    {
        "id": "urn:ngsi-ld:Park:1",
        "type": "Park",
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1, 2]}},
        "speed": {"type": "Property", "value": 0},
    },
]


@pytest.fixture
async def loaded(broker: Broker) -> Broker:
    response = await broker.client.post(f"{BASE}/entityOperations/create", json=ENTITIES)
    assert response.status_code == 201, response.text
    return broker


async def test_types_list(loaded: Broker) -> None:
    response = await loaded.client.get(f"{BASE}/types")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "EntityTypeList"
    assert body["id"].startswith("urn:ngsi-ld:EntityTypeList:")
    assert body["typeList"] == ["Car", "Park"]
    assert "Link" in response.headers


async def test_types_list_is_empty_without_entities(broker: Broker) -> None:
    response = await broker.client.get(f"{BASE}/types")
    assert response.status_code == 200, response.text
    assert response.json()["typeList"] == []


async def test_types_with_details(loaded: Broker) -> None:
    response = await loaded.client.get(f"{BASE}/types", params={"details": "true"})
    assert response.status_code == 200, response.text
    by_name = {item["typeName"]: item for item in response.json()}
    assert set(by_name) == {"Car", "Park"}
    assert by_name["Car"]["type"] == "EntityType"
    assert by_name["Car"]["id"] == "https://uri.etsi.org/ngsi-ld/default-context/Car"
    assert sorted(by_name["Car"]["attributeNames"]) == ["driver", "speed"]
    assert sorted(by_name["Park"]["attributeNames"]) == ["location", "speed"]


async def test_type_info(loaded: Broker) -> None:
    response = await loaded.client.get(f"{BASE}/types/Car")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "EntityTypeInfo"
    assert body["typeName"] == "Car"
    assert body["entityCount"] == 2
    details = {d["attributeName"]: d for d in body["attributeDetails"]}
    assert details["speed"]["attributeTypes"] == ["Property"]
    assert details["driver"]["attributeTypes"] == ["Relationship"]
    assert details["speed"]["type"] == "Attribute"
    expanded = await loaded.client.get(
        f"{BASE}/types/https%3A%2F%2Furi.etsi.org%2Fngsi-ld%2Fdefault-context%2FCar"
    )
    assert expanded.status_code == 200, expanded.text
    assert expanded.json()["entityCount"] == 2


async def test_type_info_unknown_is_404(loaded: Broker) -> None:
    response = await loaded.client.get(f"{BASE}/types/Boat")
    assert_problem(response, 404, "ResourceNotFound")


async def test_attributes_list(loaded: Broker) -> None:
    response = await loaded.client.get(f"{BASE}/attributes")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "AttributeList"
    assert body["id"].startswith("urn:ngsi-ld:AttributeList:")
    assert body["attributeList"] == ["driver", "location", "speed"]


async def test_attributes_with_details(loaded: Broker) -> None:
    response = await loaded.client.get(f"{BASE}/attributes", params={"details": "true"})
    assert response.status_code == 200, response.text
    by_name = {item["attributeName"]: item for item in response.json()}
    assert by_name["speed"]["typeNames"] == ["Car", "Park"]
    assert by_name["speed"]["type"] == "Attribute"


async def test_attribute_info(loaded: Broker) -> None:
    response = await loaded.client.get(f"{BASE}/attributes/location")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "https://uri.etsi.org/ngsi-ld/location"
    assert body["attributeName"] == "location"
    assert body["attributeTypes"] == ["GeoProperty"]
    assert body["typeNames"] == ["Park"]


async def test_attribute_info_unknown_is_404(loaded: Broker) -> None:
    response = await loaded.client.get(f"{BASE}/attributes/colour")
    assert_problem(response, 404, "ResourceNotFound")


async def test_types_follow_deletions(loaded: Broker) -> None:
    response = await loaded.client.delete(f"{BASE}/entities/urn:ngsi-ld:Park:1")
    assert response.status_code == 204
    assert (await loaded.client.get(f"{BASE}/types")).json()["typeList"] == ["Car"]
    response = await loaded.client.get(f"{BASE}/types/Park")
    assert_problem(response, 404, "ResourceNotFound")
    assert (await loaded.client.get(f"{BASE}/attributes")).json()["attributeList"] == [
        "driver",
        "speed",
    ]


async def test_types_as_json_ld(loaded: Broker) -> None:
    response = await loaded.client.get(f"{BASE}/types", headers={"Accept": "application/ld+json"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/ld+json")
    assert "@context" in response.json()
    assert "Link" not in response.headers


async def test_types_per_tenant(loaded: Broker) -> None:
    tenant = {"NGSILD-Tenant": "other"}
    created = await loaded.client.post(
        f"{BASE}/entities", json={"id": "urn:ngsi-ld:Boat:1", "type": "Boat"}, headers=tenant
    )
    assert created.status_code == 201, created.text
    response = await loaded.client.get(f"{BASE}/types", headers=tenant)
    assert response.json()["typeList"] == ["Boat"]
    response = await loaded.client.get(f"{BASE}/types/Boat")
    assert_problem(response, 404, "ResourceNotFound")
