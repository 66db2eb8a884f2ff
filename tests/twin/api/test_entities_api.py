"""Entities and their attributes over HTTP (CIM 009 clauses 6.4-6.7), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.twin.api.conftest import BASE, SDM_CONTEXT, Broker, BrokerFactory, assert_problem, link

EID = "urn:ngsi-ld:Building:b1"
JSON_LD = "application/ld+json"


def building(entity_id: str = EID, **attrs: Any) -> dict[str, Any]:
    return {
        "id": entity_id,
        "type": "Building",
        "name": {"type": "Property", "value": "Tower"},
        "height": {"type": "Property", "value": 42, "unitCode": "MTR"},
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:p1"},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [-3.7, 40.4]},
        },
        **attrs,
    }


async def post_raw(
    client: httpx.AsyncClient, path: str, content: bytes, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(f"{BASE}{path}", content=content, headers=headers)


# --- create -----------------------------------------------------------------------------------


async def test_create_answers_201_with_location(broker: Broker) -> None:
    response = await broker.client.post(f"{BASE}/entities", json=building())
    assert response.status_code == 201
    assert response.headers["Location"] == f"{BASE}/entities/{EID}"
    assert response.content == b""
    body = await broker.get(EID)
    assert body["type"] == "Building"
    assert body["height"] == {"type": "Property", "value": 42, "unitCode": "MTR"}


async def test_create_location_percent_encodes_the_id(broker: Broker) -> None:
    entity_id = "urn:ngsi-ld:Building:a/b?c#d%e"
    response = await broker.client.post(f"{BASE}/entities", json=building(entity_id))
    assert response.status_code == 201
    location = response.headers["Location"]
    assert location == f"{BASE}/entities/urn:ngsi-ld:Building:a%2Fb%3Fc%23d%25e"
    fetched = await broker.client.get(location)
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["id"] == entity_id


async def test_create_duplicate_is_409_already_exists(broker: Broker) -> None:
    await broker.create(building())
    response = await broker.client.post(f"{BASE}/entities", json=building())
    assert_problem(response, 409, "AlreadyExists")


async def test_create_with_ld_json_and_context_in_body(broker: Broker) -> None:
    payload = {**building(), "@context": [SDM_CONTEXT]}
    response = await broker.client.post(
        f"{BASE}/entities",
        content=httpx.Request("POST", "/", json=payload).content,
        headers={"Content-Type": JSON_LD},
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"id": "not a uri", "type": "Building"}, id="invalid-id"),
        pytest.param({"type": "Building"}, id="missing-id"),
        pytest.param({"id": EID}, id="missing-type"),
        pytest.param({"id": EID, "type": ""}, id="empty-type"),
        pytest.param({"id": EID, "type": "Building", "a": {"type": "Property"}}, id="no-value"),
        pytest.param(
            {"id": EID, "type": "Building", "a": {"type": "Relationship", "object": "x y"}},
            id="bad-object",
        ),
        pytest.param(
            {"id": EID, "type": "Building", "a": {"type": "Unknown", "value": 1}},
            id="unknown-attribute-type",
        ),
        pytest.param(
            {"id": EID, "type": "Building", "bad<name": {"type": "Property", "value": 1}},
            id="forbidden-attribute-name",
        ),
        pytest.param(
            {
                "id": EID,
                "type": "Building",
                "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": []}},
            },
            id="bad-geojson",
        ),
        pytest.param(
            {
                "id": EID,
                "type": "Building",
                "location": {
                    "type": "GeoProperty",
                    "value": {"type": "Pointy", "coordinates": [1, 2]},
                },
            },
            id="unknown-geometry",
        ),
        pytest.param(
            {
                "id": EID,
                "type": "Building",
                "a": {"type": "Property", "value": 1, "observedAt": "yesterday"},
            },
            id="bad-observedAt",
        ),
        pytest.param(
            {"id": EID, "type": "Building", "a": {"type": "Property", "value": "urn:ngsi-ld:null"}},
            id="ngsi-ld-null",
        ),
        pytest.param({"id": EID, "type": "Building", "a": None}, id="json-null"),
        pytest.param({"id": EID, "type": "Building", "scope": "no-slash"}, id="bad-scope"),
    ],
)
async def test_create_refuses_bad_data(sqlite_broker: Broker, payload: dict[str, Any]) -> None:
    response = await sqlite_broker.client.post(f"{BASE}/entities", json=payload)
    assert_problem(response, 400, "BadRequestData")


async def test_create_invalid_json_is_invalid_request(sqlite_broker: Broker) -> None:
    response = await post_raw(
        sqlite_broker.client,
        "/entities",
        b'{"id": "urn:x:1", ',
        {"Content-Type": "application/json"},
    )
    assert_problem(response, 400, "InvalidRequest")


async def test_create_invalid_json_ld_is_invalid_request(sqlite_broker: Broker) -> None:
    response = await post_raw(sqlite_broker.client, "/entities", b"{,}", {"Content-Type": JSON_LD})
    assert_problem(response, 400, "InvalidRequest")


async def test_create_empty_body_is_invalid_request(sqlite_broker: Broker) -> None:
    response = await post_raw(sqlite_broker.client, "/entities", b"", {"Content-Type": JSON_LD})
    assert_problem(response, 400, "InvalidRequest")


async def test_create_array_body_is_invalid_request(sqlite_broker: Broker) -> None:
    response = await sqlite_broker.client.post(f"{BASE}/entities", json=[building()])
    assert_problem(response, 400, "InvalidRequest")


async def test_create_without_content_length_is_411(sqlite_broker: Broker) -> None:
    client = sqlite_broker.client
    request = client.build_request(
        "POST", f"{BASE}/entities", content=b"{}", headers={"Content-Type": "application/json"}
    )
    del request.headers["Content-Length"]
    response = await client.send(request)
    assert_problem(response, 411, None)


async def test_create_with_wrong_content_type_is_415(sqlite_broker: Broker) -> None:
    response = await post_raw(
        sqlite_broker.client,
        "/entities",
        b'{"id":"urn:x:1","type":"T"}',
        {"Content-Type": "text/plain"},
    )
    assert_problem(response, 415, None)


async def test_context_in_body_with_plain_json_is_bad_request(sqlite_broker: Broker) -> None:
    payload = {**building(), "@context": SDM_CONTEXT}
    response = await sqlite_broker.client.post(f"{BASE}/entities", json=payload)
    assert_problem(response, 400, "BadRequestData")


async def test_link_header_with_ld_json_is_bad_request(sqlite_broker: Broker) -> None:
    payload = {**building(), "@context": SDM_CONTEXT}
    response = await sqlite_broker.client.post(
        f"{BASE}/entities",
        content=httpx.Request("POST", "/", json=payload).content,
        headers={"Content-Type": JSON_LD, **link(SDM_CONTEXT)},
    )
    assert_problem(response, 400, "BadRequestData")


async def test_ld_json_without_context_is_bad_request(sqlite_broker: Broker) -> None:
    response = await sqlite_broker.client.post(
        f"{BASE}/entities",
        content=httpx.Request("POST", "/", json=building()).content,
        headers={"Content-Type": JSON_LD},
    )
    assert_problem(response, 400, "BadRequestData")


# --- retrieve ---------------------------------------------------------------------------------


async def test_retrieve_normalized_by_default(broker: Broker) -> None:
    await broker.create(building())
    body = await broker.get(EID)
    assert body == {
        "id": EID,
        "type": "Building",
        "name": {"type": "Property", "value": "Tower"},
        "height": {"type": "Property", "value": 42, "unitCode": "MTR"},
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:p1"},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [-3.7, 40.4]},
        },
    }


async def test_retrieve_key_values(broker: Broker) -> None:
    await broker.create(building())
    for option in ("keyValues", "simplified"):
        body = await broker.get(EID, params={"options": option})
        assert body == {
            "id": EID,
            "type": "Building",
            "name": "Tower",
            "height": 42,
            "owner": "urn:ngsi-ld:Person:p1",
            "location": {"type": "Point", "coordinates": [-3.7, 40.4]},
        }
    assert await broker.get(EID, params={"format": "keyValues"}) == body


async def test_retrieve_concise(broker: Broker) -> None:
    await broker.create(building())
    body = await broker.get(EID, params={"options": "concise"})
    assert body["name"] == "Tower"
    assert body["height"] == {"value": 42, "unitCode": "MTR"}
    assert body["owner"] == {"object": "urn:ngsi-ld:Person:p1"}
    assert body["location"] == {"type": "Point", "coordinates": [-3.7, 40.4]}


async def test_retrieve_sys_attrs(broker: Broker) -> None:
    await broker.create(building())
    broker.clock.advance(60)
    patched = await broker.client.patch(
        f"{BASE}/entities/{EID}/attrs", json={"height": {"type": "Property", "value": 43}}
    )
    assert patched.status_code == 204, patched.text
    body = await broker.get(EID, params={"options": "sysAttrs"})
    assert body["createdAt"] == "2026-01-01T00:00:00.000000Z"
    assert body["modifiedAt"] == "2026-01-01T00:01:00.000000Z"
    assert body["name"]["createdAt"] == "2026-01-01T00:00:00.000000Z"
    assert body["height"]["modifiedAt"] == "2026-01-01T00:01:00.000000Z"
    plain = await broker.get(EID)
    assert "createdAt" not in plain and "createdAt" not in plain["name"]


async def test_retrieve_attrs_pick_omit(broker: Broker) -> None:
    await broker.create(building())
    body = await broker.get(EID, params={"attrs": "name,height"})
    assert set(body) == {"id", "type", "name", "height"}
    body = await broker.get(EID, params={"pick": "id,name"})
    assert set(body) == {"id", "name"}
    body = await broker.get(EID, params={"omit": "type,location,owner"})
    assert set(body) == {"id", "name", "height"}
    response = await broker.client.get(f"{BASE}/entities/{EID}", params={"pick": "a", "omit": "b"})
    assert_problem(response, 400, "BadRequestData")


async def test_retrieve_attrs_none_present_is_404(broker: Broker) -> None:
    await broker.create(building())
    response = await broker.client.get(f"{BASE}/entities/{EID}", params={"attrs": "colour"})
    assert_problem(response, 404, "ResourceNotFound")


async def test_multi_instance_attribute_and_dataset_id(broker: Broker) -> None:
    temperature = [
        {"type": "Property", "value": 20},
        {"type": "Property", "value": 25, "datasetId": "urn:ngsi-ld:Dataset:forecast"},
    ]
    await broker.create({"id": EID, "type": "Building", "temperature": temperature})
    body = await broker.get(EID)
    assert body["temperature"] == temperature
    only = await broker.get(EID, params={"datasetId": "urn:ngsi-ld:Dataset:forecast"})
    assert only["temperature"] == temperature[1]
    default = await broker.get(EID, params={"datasetId": "@none"})
    assert default["temperature"] == temperature[0]
    kv = await broker.get(EID, params={"options": "keyValues"})
    assert kv["temperature"] == {"dataset": {"@none": 20, "urn:ngsi-ld:Dataset:forecast": 25}}


async def test_retrieve_geojson(broker: Broker) -> None:
    await broker.create(
        building(
            origin={"type": "GeoProperty", "value": {"type": "Point", "coordinates": [2.0, 48.0]}}
        )
    )
    response = await broker.client.get(
        f"{BASE}/entities/{EID}", headers={"Accept": "application/geo+json"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    feature = response.json()
    assert feature["type"] == "Feature"
    assert feature["id"] == EID
    assert feature["geometry"] == {"type": "Point", "coordinates": [-3.7, 40.4]}
    assert feature["properties"]["type"] == "Building"
    assert feature["properties"]["height"]["value"] == 42
    other = await broker.client.get(
        f"{BASE}/entities/{EID}",
        params={"geometryProperty": "origin", "options": "keyValues"},
        headers={"Accept": "application/geo+json"},
    )
    assert other.status_code == 200, other.text
    assert other.json()["geometry"] == {"type": "Point", "coordinates": [2.0, 48.0]}
    assert other.json()["properties"]["height"] == 42


async def test_retrieve_unacceptable_accept_is_406(broker: Broker) -> None:
    await broker.create(building())
    response = await broker.client.get(f"{BASE}/entities/{EID}", headers={"Accept": "text/csv"})
    assert_problem(response, 406, None)


async def test_retrieve_unknown_id_is_404(broker: Broker) -> None:
    response = await broker.client.get(f"{BASE}/entities/urn:ngsi-ld:Building:none")
    assert_problem(response, 404, "ResourceNotFound")


async def test_retrieve_invalid_id_is_400(broker: Broker) -> None:
    response = await broker.client.get(f"{BASE}/entities/not-a-uri")
    assert_problem(response, 400, "BadRequestData")


# --- tenants ----------------------------------------------------------------------------------


async def test_tenants_are_isolated(broker: Broker) -> None:
    a = {"NGSILD-Tenant": "city-a"}
    await broker.create(building(), headers=a)
    assert (await broker.get(EID, headers=a))["id"] == EID
    response = await broker.client.get(f"{BASE}/entities/{EID}")
    assert_problem(response, 404, "ResourceNotFound")
    await broker.create(building(), headers={"NGSILD-Tenant": "city-b"})
    query = await broker.client.get(f"{BASE}/entities", params={"type": "Building"}, headers=a)
    assert [e["id"] for e in query.json()] == [EID]


async def test_unknown_tenant_on_read_is_404_nonexistent_tenant(broker: Broker) -> None:
    unknown = {"NGSILD-Tenant": "nowhere"}
    response = await broker.client.get(f"{BASE}/entities/{EID}", headers=unknown)
    assert_problem(response, 404, "NonexistentTenant")
    response = await broker.client.get(
        f"{BASE}/entities", params={"type": "Building"}, headers=unknown
    )
    assert_problem(response, 404, "NonexistentTenant")
    response = await broker.client.get(f"{BASE}/types", headers=unknown)
    assert_problem(response, 404, "NonexistentTenant")


async def test_invalid_tenant_is_400(broker: Broker) -> None:
    response = await broker.client.get(
        f"{BASE}/entities/{EID}", headers={"NGSILD-Tenant": "bad tenant!"}
    )
    assert_problem(response, 400, "BadRequestData")


# --- replace, merge, delete -------------------------------------------------------------------


async def test_replace_entity(broker: Broker) -> None:
    await broker.create(building())
    response = await broker.client.put(
        f"{BASE}/entities/{EID}",
        json={"type": "Building", "colour": {"type": "Property", "value": "red"}},
    )
    assert response.status_code == 204, response.text
    body = await broker.get(EID)
    assert body == {"id": EID, "type": "Building", "colour": {"type": "Property", "value": "red"}}


async def test_replace_unknown_entity_is_404(broker: Broker) -> None:
    response = await broker.client.put(f"{BASE}/entities/{EID}", json={"type": "Building"})
    assert_problem(response, 404, "ResourceNotFound")


async def test_replace_with_other_id_is_400(broker: Broker) -> None:
    await broker.create(building())
    response = await broker.client.put(
        f"{BASE}/entities/{EID}", json={"id": "urn:ngsi-ld:Building:other", "type": "Building"}
    )
    assert_problem(response, 400, "BadRequestData")


async def test_merge_entity_with_null_deletes(broker: Broker) -> None:
    await broker.create(building())
    response = await broker.client.patch(
        f"{BASE}/entities/{EID}",
        json={
            "name": "urn:ngsi-ld:null",
            "height": {"type": "Property", "value": 50},
            "colour": {"type": "Property", "value": "blue"},
        },
    )
    assert response.status_code == 204, response.text
    body = await broker.get(EID)
    assert "name" not in body
    assert body["height"] == {"type": "Property", "value": 50, "unitCode": "MTR"}
    assert body["colour"] == {"type": "Property", "value": "blue"}


async def test_merge_accepts_merge_patch_content_type(broker: Broker) -> None:
    await broker.create(building())
    response = await broker.client.patch(
        f"{BASE}/entities/{EID}",
        content=b'{"height": 7}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 204, response.text
    assert (await broker.get(EID))["height"]["value"] == 7


async def test_merge_unknown_entity_is_404(broker: Broker) -> None:
    response = await broker.client.patch(f"{BASE}/entities/{EID}", json={"height": 1})
    assert_problem(response, 404, "ResourceNotFound")


async def test_delete_entity(broker: Broker) -> None:
    await broker.create(building())
    response = await broker.client.delete(f"{BASE}/entities/{EID}")
    assert response.status_code == 204
    response = await broker.client.get(f"{BASE}/entities/{EID}")
    assert_problem(response, 404, "ResourceNotFound")
    response = await broker.client.delete(f"{BASE}/entities/{EID}")
    assert_problem(response, 404, "ResourceNotFound")


async def test_delete_invalid_id_is_400(broker: Broker) -> None:
    response = await broker.client.delete(f"{BASE}/entities/nope")
    assert_problem(response, 400, "BadRequestData")


# --- attributes -------------------------------------------------------------------------------


async def test_append_attributes_204(broker: Broker) -> None:
    await broker.create(building())
    response = await broker.client.post(
        f"{BASE}/entities/{EID}/attrs",
        json={"colour": {"type": "Property", "value": "red"}, "height": 1},
    )
    assert response.status_code == 204, response.text
    body = await broker.get(EID)
    assert body["colour"]["value"] == "red" and body["height"] == {"type": "Property", "value": 1}


async def test_append_no_overwrite_is_207_with_update_result(broker: Broker) -> None:
    await broker.create(building())
    response = await broker.client.post(
        f"{BASE}/entities/{EID}/attrs",
        params={"options": "noOverwrite"},
        json={"colour": {"type": "Property", "value": "red"}, "height": 1},
    )
    assert response.status_code == 207, response.text
    result = response.json()
    assert result["updated"] == ["colour"]
    assert [item["attributeName"] for item in result["notUpdated"]] == ["height"]
    assert result["notUpdated"][0]["reason"]
    assert (await broker.get(EID))["height"]["value"] == 42


async def test_append_to_unknown_entity_is_404(broker: Broker) -> None:
    response = await broker.client.post(f"{BASE}/entities/{EID}/attrs", json={"a": 1})
    assert_problem(response, 404, "ResourceNotFound")


async def test_update_attributes_204_and_207(broker: Broker) -> None:
    await broker.create(building())
    response = await broker.client.patch(
        f"{BASE}/entities/{EID}/attrs", json={"height": {"type": "Property", "value": 5}}
    )
    assert response.status_code == 204, response.text
    response = await broker.client.patch(
        f"{BASE}/entities/{EID}/attrs",
        json={
            "height": {"type": "Property", "value": 6},
            "colour": {"type": "Property", "value": 1},
        },
    )
    assert response.status_code == 207, response.text
    assert response.json()["updated"] == ["height"]
    assert response.json()["notUpdated"][0]["attributeName"] == "colour"
    body = await broker.get(EID)
    assert body["height"]["value"] == 6 and "colour" not in body


async def test_partial_attribute_update(broker: Broker) -> None:
    await broker.create(building())
    response = await broker.client.patch(f"{BASE}/entities/{EID}/attrs/height", json={"value": 99})
    assert response.status_code == 204, response.text
    assert (await broker.get(EID))["height"] == {"type": "Property", "value": 99, "unitCode": "MTR"}
    response = await broker.client.patch(f"{BASE}/entities/{EID}/attrs/colour", json={"value": 1})
    assert_problem(response, 404, "ResourceNotFound")


async def test_replace_attribute(broker: Broker) -> None:
    await broker.create(building())
    response = await broker.client.put(
        f"{BASE}/entities/{EID}/attrs/height", json={"type": "Property", "value": 3}
    )
    assert response.status_code == 204, response.text
    assert (await broker.get(EID))["height"] == {"type": "Property", "value": 3}
    response = await broker.client.put(
        f"{BASE}/entities/{EID}/attrs/colour", json={"type": "Property", "value": 3}
    )
    assert_problem(response, 404, "ResourceNotFound")


async def test_delete_attribute_with_dataset_id_and_delete_all(broker: Broker) -> None:
    temperature = [
        {"type": "Property", "value": 20},
        {"type": "Property", "value": 25, "datasetId": "urn:ngsi-ld:Dataset:forecast"},
        {"type": "Property", "value": 27, "datasetId": "urn:ngsi-ld:Dataset:model"},
    ]
    await broker.create({"id": EID, "type": "Building", "temperature": temperature, "a": 1})
    response = await broker.client.delete(
        f"{BASE}/entities/{EID}/attrs/temperature",
        params={"datasetId": "urn:ngsi-ld:Dataset:forecast"},
    )
    assert response.status_code == 204, response.text
    assert (await broker.get(EID))["temperature"] == [temperature[0], temperature[2]]
    response = await broker.client.delete(f"{BASE}/entities/{EID}/attrs/temperature")
    assert response.status_code == 204
    assert (await broker.get(EID))["temperature"] == temperature[2]
    response = await broker.client.delete(
        f"{BASE}/entities/{EID}/attrs/temperature",
        params={"datasetId": "urn:ngsi-ld:Dataset:forecast"},
    )
    assert_problem(response, 404, "ResourceNotFound")
    response = await broker.client.delete(
        f"{BASE}/entities/{EID}/attrs/temperature", params={"deleteAll": "true"}
    )
    assert response.status_code == 204
    assert "temperature" not in await broker.get(EID)


async def test_delete_missing_attribute_is_404(broker: Broker) -> None:
    await broker.create(building())
    response = await broker.client.delete(f"{BASE}/entities/{EID}/attrs/colour")
    assert_problem(response, 404, "ResourceNotFound")


# --- Smart Data Models ------------------------------------------------------------------------

AQ = "urn:ngsi-ld:AirQualityObserved:ES-Madrid-1"


def air_quality(no2: Any = 22.5) -> dict[str, Any]:
    return {
        "id": AQ,
        "type": "AirQualityObserved",
        "dateObserved": {"type": "Property", "value": "2026-01-01T00:00:00Z"},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [-3.7, 40.4]},
        },
        "NO2": {"type": "Property", "value": no2, "unitCode": "GQ"},
    }


async def test_valid_air_quality_observed_is_accepted(broker: Broker) -> None:
    await broker.create(air_quality(), headers=link(SDM_CONTEXT))
    body = await broker.get(AQ, headers=link(SDM_CONTEXT), params={"options": "keyValues"})
    assert body["NO2"] == 22.5


async def test_invalid_air_quality_observed_is_refused(broker: Broker) -> None:
    response = await broker.client.post(
        f"{BASE}/entities", json=air_quality(no2="a lot"), headers=link(SDM_CONTEXT)
    )
    problem = assert_problem(response, 400, "BadRequestData")
    assert "AirQualityObserved" in problem["detail"] and "NO2" in problem["detail"]
    missing = {k: v for k, v in air_quality().items() if k != "dateObserved"}
    response = await broker.client.post(f"{BASE}/entities", json=missing, headers=link(SDM_CONTEXT))
    assert "dateObserved" in assert_problem(response, 400, "BadRequestData")["detail"]


async def test_model_validation_can_be_turned_off(make_broker: BrokerFactory) -> None:
    broker = await make_broker(twin_validate_models=False)
    await broker.create(air_quality(no2="a lot"), headers=link(SDM_CONTEXT))
