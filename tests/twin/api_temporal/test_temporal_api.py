"""The temporal API over HTTP (CIM 009 clauses 5.6.11-5.6.17, 5.7.3-5.7.4, 6.18-6.22)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.twin.api_temporal.conftest import BASE, CORE, LD, Broker, problem

TEMPORAL = f"{BASE}/temporal/entities"
V1 = "urn:ngsi-ld:Vehicle:v1"


@pytest.fixture
def broker_url(database_url: str) -> str:
    """The temporal API's behaviour depends on the store: SQLite and PostgreSQL."""
    return database_url


def at(hour: int, minute: int = 0) -> str:
    return f"2026-01-01T{hour:02d}:{minute:02d}:00Z"


async def seed(broker: Broker, entity_id: str = V1, speeds: tuple[float, ...] = (10, 20, 30, 40)):
    """An entity whose speed was ``speeds`` observed at 00:00, 00:30, 01:00, 01:30 (one change
    per minute of system time)."""
    first = {
        "id": entity_id,
        "type": "Vehicle",
        "speed": {"type": "Property", "value": speeds[0], "observedAt": at(0)},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [2, 40]}},
        "@context": CORE,
    }
    await broker.create(first)
    for i, value in enumerate(speeds[1:], start=1):
        broker.clock.advance(60)
        minutes = 30 * i
        response = await broker.client.patch(
            f"{BASE}/entities/{entity_id}/attrs",
            json={
                "speed": {
                    "type": "Property",
                    "value": value,
                    "observedAt": at(minutes // 60, minutes % 60),
                }
            },
        )
        assert response.status_code == 204, response.text


async def get(broker: Broker, url: str, **params: Any) -> Any:
    response = await broker.client.get(url, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_every_change_leaves_an_instance(broker: Broker) -> None:
    await seed(broker)
    body = await get(broker, f"{TEMPORAL}/{V1}")
    assert body["id"] == V1 and body["type"] == "Vehicle"
    speeds = body["speed"]
    assert [i["value"] for i in speeds] == [10, 20, 30, 40]
    assert [i["observedAt"] for i in speeds] == [at(0), at(0, 30), at(1), at(1, 30)]
    assert all(i["type"] == "Property" for i in speeds)
    ids = [i["instanceId"] for i in speeds]
    assert len(set(ids)) == 4 and all(i.startswith("urn:ngsi-ld:attribute:instance:") for i in ids)
    assert len(body["location"]) == 1


async def test_other_write_paths_leave_instances(broker: Broker) -> None:
    await seed(broker, speeds=(1,))
    url = f"{BASE}/entities/{V1}"
    broker.clock.advance(60)
    await broker.client.post(f"{url}/attrs", json={"brand": {"type": "Property", "value": "A"}})
    broker.clock.advance(60)
    await broker.client.patch(f"{url}/attrs/speed", json={"value": 2})
    broker.clock.advance(60)
    await broker.client.patch(
        url,
        json={"speed": {"type": "Property", "value": 3}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    broker.clock.advance(60)
    await broker.client.post(
        f"{BASE}/entityOperations/upsert",
        json=[{"id": V1, "type": "Vehicle", "speed": {"type": "Property", "value": 4}}],
        params={"options": "update"},
    )
    body = await get(
        broker, f"{TEMPORAL}/{V1}", options="temporalValues", timeproperty="modifiedAt"
    )
    assert [v[0] for v in body["speed"]["values"]] == [1, 2, 3, 4]
    assert body["brand"]["values"][0][0] == "A"


async def test_temporal_values(broker: Broker) -> None:
    await seed(broker)
    body = await get(broker, f"{TEMPORAL}/{V1}", options="temporalValues", attrs="speed")
    assert body["speed"] == {
        "type": "Property",
        "values": [[10, at(0)], [20, at(0, 30)], [30, at(1)], [40, at(1, 30)]],
    }
    assert "location" not in body
    same = await get(broker, f"{TEMPORAL}/{V1}", format="temporalValues", attrs="speed")
    assert same == body


@pytest.mark.parametrize(
    ("method", "first_hour", "second_hour"),
    [
        ("totalCount", 2, 2),
        ("distinctCount", 2, 2),
        ("sum", 30, 70),
        ("avg", 15, 35),
        ("min", 10, 30),
        ("max", 20, 40),
        ("stddev", 5, 5),
        ("sumsq", 500, 2500),
    ],
)
async def test_aggregated_values_per_hour(
    broker: Broker, method: str, first_hour: float, second_hour: float
) -> None:
    await seed(broker)
    body = await get(
        broker,
        f"{TEMPORAL}/{V1}",
        options="aggregatedValues",
        aggrMethods=method,
        aggrPeriodDuration="PT1H",
        attrs="speed",
        timerel="after",
        timeAt=at(0),
    )
    buckets = body["speed"][method]
    assert [b[1:] for b in buckets] == [[at(0), at(1)], [at(1), at(2)]]
    assert [b[0] for b in buckets] == pytest.approx([first_hour, second_hour])


async def test_aggregated_over_the_whole_range(broker: Broker) -> None:
    await seed(broker)
    body = await get(
        broker, f"{TEMPORAL}/{V1}", options="aggregatedValues", aggrMethods="sum,max", attrs="speed"
    )
    assert [b[0] for b in body["speed"]["sum"]] == [100]
    assert [b[0] for b in body["speed"]["max"]] == [40]


async def test_aggregation_errors(broker: Broker) -> None:
    await seed(broker)
    url = f"{TEMPORAL}/{V1}"
    for params in (
        {"options": "aggregatedValues"},
        {"options": "aggregatedValues", "aggrMethods": "median"},
        {"options": "aggregatedValues", "aggrMethods": "sum", "aggrPeriodDuration": "1 hour"},
        {"options": "aggregatedValues,temporalValues", "aggrMethods": "sum"},
    ):
        problem(await broker.client.get(url, params=params), 400, "BadRequestData")


async def test_timerel(broker: Broker) -> None:
    await seed(broker)
    url = f"{TEMPORAL}/{V1}"

    async def values(**params: Any) -> list[Any]:
        body = await get(broker, url, options="temporalValues", attrs="speed", **params)
        return [v[0] for v in body.get("speed", {}).get("values", [])]

    assert await values(timerel="before", timeAt=at(1)) == [10, 20]
    assert await values(timerel="after", timeAt=at(1)) == [30, 40]
    assert await values(timerel="between", timeAt=at(0, 30), endTimeAt=at(1, 30)) == [20, 30]
    assert await values(timerel="after", timeAt=at(5)) == []
    assert await values(lastN=2) == [30, 40]
    assert await values(lastN=3, timerel="before", timeAt=at(1, 30)) == [10, 20, 30]


async def test_timeproperty_modified_at(broker: Broker) -> None:
    await seed(broker)
    url = f"{TEMPORAL}/{V1}"
    body = await get(
        broker,
        url,
        options="temporalValues",
        attrs="speed",
        timeproperty="modifiedAt",
        timerel="after",
        timeAt="2026-01-01T00:01:30Z",
    )
    assert body["speed"]["values"] == [
        [30, "2026-01-01T00:02:00.000000Z"],
        [40, "2026-01-01T00:03:00.000000Z"],
    ]
    body = await get(
        broker, url, options="temporalValues", attrs="speed", timeproperty="modifiedAt", lastN=1
    )
    assert body["speed"]["values"] == [[40, "2026-01-01T00:03:00.000000Z"]]
    problem(await broker.client.get(url, params={"timeproperty": "seenAt"}), 400, "BadRequestData")


@pytest.mark.parametrize(
    "params",
    [
        {"timerel": "before"},
        {"timerel": "after", "timeAt": ""},
        {"timerel": "between", "timeAt": "2026-01-01T00:00:00Z"},
        {
            "timerel": "between",
            "timeAt": "2026-01-01T02:00:00Z",
            "endTimeAt": "2026-01-01T01:00:00Z",
        },
        {"timerel": "during", "timeAt": "2026-01-01T00:00:00Z"},
        {"timerel": "after", "timeAt": "yesterday"},
        {"timeAt": "2026-01-01T00:00:00Z"},
        {"lastN": "0"},
        {"lastN": "many"},
    ],
)
async def test_bad_temporal_parameters_are_400(broker: Broker, params: dict[str, str]) -> None:
    await seed(broker, speeds=(1,))
    problem(await broker.client.get(f"{TEMPORAL}/{V1}", params=params), 400, "BadRequestData")
    problem(
        await broker.client.get(TEMPORAL, params={"type": "Vehicle", **params}),
        400,
        "BadRequestData",
    )


async def test_retrieve_errors(broker: Broker) -> None:
    problem(
        await broker.client.get(f"{TEMPORAL}/urn:ngsi-ld:Vehicle:none"), 404, "ResourceNotFound"
    )
    problem(await broker.client.get(f"{TEMPORAL}/not-a-uri"), 400, "BadRequestData")
    problem(
        await broker.client.get(f"{TEMPORAL}/{V1}", headers={"NGSILD-Tenant": "nowhere"}),
        404,
        "NonexistentTenant",
    )


async def test_query(broker: Broker) -> None:
    await seed(broker, V1)
    await seed(broker, "urn:ngsi-ld:Vehicle:v2", speeds=(50, 60))
    await broker.create(
        {
            "id": "urn:ngsi-ld:Bus:b1",
            "type": "Bus",
            "speed": {"type": "Property", "value": 5, "observedAt": at(0)},
            "@context": CORE,
        }
    )

    async def ids(**params: Any) -> list[str]:
        return [e["id"] for e in await get(broker, TEMPORAL, **params)]

    assert await ids(type="Vehicle") == [V1, "urn:ngsi-ld:Vehicle:v2"]
    assert await ids(type="Vehicle,Bus") == ["urn:ngsi-ld:Bus:b1", V1, "urn:ngsi-ld:Vehicle:v2"]
    assert await ids(id="urn:ngsi-ld:Vehicle:v2") == ["urn:ngsi-ld:Vehicle:v2"]
    assert await ids(idPattern="^urn:ngsi-ld:Vehicle:v[12]$", type="Vehicle") == [
        V1,
        "urn:ngsi-ld:Vehicle:v2",
    ]
    assert await ids(type="Vehicle", q="speed>45") == ["urn:ngsi-ld:Vehicle:v2"]
    assert await ids(
        type="Vehicle", georel="near;maxDistance==1000", geometry="Point", coordinates="[2,40]"
    ) == [V1, "urn:ngsi-ld:Vehicle:v2"]
    assert (
        await ids(
            type="Vehicle", georel="near;maxDistance==1000", geometry="Point", coordinates="[9,9]"
        )
        == []
    )
    assert await ids(type="Vehicle", timerel="after", timeAt=at(1, 15)) == [V1]
    assert await ids(attrs="speed") == ["urn:ngsi-ld:Bus:b1", V1, "urn:ngsi-ld:Vehicle:v2"]
    counted = await broker.client.get(
        TEMPORAL, params={"type": "Vehicle,Bus", "count": "true", "limit": 1, "offset": 1}
    )
    assert counted.headers["NGSILD-Results-Count"] == "3"
    assert [e["id"] for e in counted.json()] == [V1]
    assert (
        "NGSILD-Results-Count"
        not in (await broker.client.get(TEMPORAL, params={"type": "Bus"})).headers
    )
    values = await get(broker, TEMPORAL, type="Vehicle", options="temporalValues", lastN=1)
    assert [e["speed"]["values"][0][0] for e in values] == [40, 60]


async def test_query_errors(broker: Broker) -> None:
    problem(await broker.client.get(TEMPORAL), 400, "BadRequestData")
    problem(
        await broker.client.get(TEMPORAL, params={"timerel": "after", "timeAt": at(0)}),
        400,
        "BadRequestData",
    )
    problem(
        await broker.client.get(TEMPORAL, params={"type": "Vehicle", "q": "speed>>"}),
        400,
        "BadRequestData",
    )
    problem(
        await broker.client.get(TEMPORAL, params={"type": "Vehicle", "georel": "near"}),
        400,
        "BadRequestData",
    )
    problem(
        await broker.client.get(TEMPORAL, params={"type": "Vehicle", "limit": 99999}),
        403,
        "TooManyResults",
    )


def temporal_entity(entity_id: str = "urn:ngsi-ld:Sensor:s1") -> dict[str, Any]:
    return {
        "id": entity_id,
        "type": "Sensor",
        "temperature": [
            {"type": "Property", "value": 20, "observedAt": at(0)},
            {"type": "Property", "value": 21, "observedAt": at(1)},
        ],
        "@context": CORE,
    }


async def test_create_add_delete_temporal_entity(broker: Broker) -> None:
    ld = {"Content-Type": LD}
    response = await broker.client.post(TEMPORAL, json=temporal_entity(), headers=ld)
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"{TEMPORAL}/urn:ngsi-ld:Sensor:s1"
    url = f"{TEMPORAL}/urn:ngsi-ld:Sensor:s1"
    body = await get(broker, url, options="temporalValues")
    assert body["temperature"]["values"] == [[20, at(0)], [21, at(1)]]
    more = {
        **temporal_entity(),
        "temperature": {"type": "Property", "value": 22, "observedAt": at(2)},
    }
    assert (await broker.client.post(TEMPORAL, json=more, headers=ld)).status_code == 204
    response = await broker.client.post(
        f"{url}/attrs",
        json={"humidity": [{"type": "Property", "value": 50, "observedAt": at(0)}]},
    )
    assert response.status_code == 204, response.text
    body = await get(broker, url, options="temporalValues")
    assert [v[0] for v in body["temperature"]["values"]] == [20, 21, 22]
    assert body["humidity"]["values"] == [[50, at(0)]]
    assert (await broker.client.delete(url)).status_code == 204
    problem(await broker.client.get(url), 404, "ResourceNotFound")
    problem(await broker.client.delete(url), 404, "ResourceNotFound")


async def test_temporal_create_errors(broker: Broker) -> None:
    ld = {"Content-Type": LD}
    no_id = {k: v for k, v in temporal_entity().items() if k != "id"}
    problem(await broker.client.post(TEMPORAL, json=no_id, headers=ld), 400, "BadRequestData")
    bad_id = {**temporal_entity(), "id": "not a uri"}
    problem(await broker.client.post(TEMPORAL, json=bad_id, headers=ld), 400, "BadRequestData")
    no_type = {k: v for k, v in temporal_entity().items() if k != "type"}
    problem(await broker.client.post(TEMPORAL, json=no_type, headers=ld), 400, "BadRequestData")
    response = await broker.client.post(
        TEMPORAL, content=b"{", headers={"Content-Type": "application/json"}
    )
    problem(response, 400, "InvalidRequest")
    problem(
        await broker.client.post(
            f"{TEMPORAL}/urn:ngsi-ld:Sensor:none/attrs",
            json={"humidity": {"type": "Property", "value": 1}},
        ),
        404,
        "ResourceNotFound",
    )


async def test_delete_attribute(broker: Broker) -> None:
    entity = temporal_entity()
    entity["temperature"] = [
        *entity["temperature"],
        {
            "type": "Property",
            "value": 99,
            "observedAt": at(0),
            "datasetId": "urn:ngsi-ld:Dataset:f",
        },
    ]
    entity["humidity"] = {"type": "Property", "value": 50, "observedAt": at(0)}
    await broker.client.post(TEMPORAL, json=entity, headers={"Content-Type": LD})
    url = f"{TEMPORAL}/urn:ngsi-ld:Sensor:s1"
    response = await broker.client.delete(
        f"{url}/attrs/temperature", params={"datasetId": "urn:ngsi-ld:Dataset:f"}
    )
    assert response.status_code == 204
    body = await get(broker, url)
    assert [i["value"] for i in body["temperature"]] == [20, 21]
    assert (await broker.client.delete(f"{url}/attrs/temperature")).status_code == 204
    assert "temperature" not in await get(broker, url)
    problem(await broker.client.delete(f"{url}/attrs/temperature"), 404, "ResourceNotFound")
    assert (
        await broker.client.delete(f"{url}/attrs/humidity", params={"deleteAll": "true"})
    ).status_code == 204
    problem(await broker.client.delete(f"{url}/attrs/humidity"), 404, "ResourceNotFound")


async def test_patch_and_delete_one_instance(broker: Broker) -> None:
    await broker.client.post(TEMPORAL, json=temporal_entity(), headers={"Content-Type": LD})
    url = f"{TEMPORAL}/urn:ngsi-ld:Sensor:s1"
    first, second = (await get(broker, url))["temperature"]
    response = await broker.client.patch(
        f"{url}/attrs/temperature/{first['instanceId']}",
        json={"temperature": {"type": "Property", "value": 25, "observedAt": at(0)}},
    )
    assert response.status_code == 204, response.text
    instances = (await get(broker, url))["temperature"]
    assert [(i["value"], i["instanceId"]) for i in instances] == [
        (25, first["instanceId"]),
        (21, second["instanceId"]),
    ]
    deleted = await broker.client.delete(f"{url}/attrs/temperature/{second['instanceId']}")
    assert deleted.status_code == 204
    assert [i["value"] for i in (await get(broker, url))["temperature"]] == [25]
    missing = "urn:ngsi-ld:attribute:instance:none"
    problem(
        await broker.client.delete(f"{url}/attrs/temperature/{missing}"), 404, "ResourceNotFound"
    )
    problem(
        await broker.client.patch(
            f"{url}/attrs/temperature/{missing}",
            json={"temperature": {"type": "Property", "value": 1}},
        ),
        404,
        "ResourceNotFound",
    )


async def test_tenants(broker: Broker) -> None:
    tenant = {"NGSILD-Tenant": "city", "Content-Type": LD}
    response = await broker.client.post(TEMPORAL, json=temporal_entity(), headers=tenant)
    assert response.status_code == 201
    url = f"{TEMPORAL}/urn:ngsi-ld:Sensor:s1"
    assert (await broker.client.get(url, headers={"NGSILD-Tenant": "city"})).status_code == 200
    problem(await broker.client.get(url), 404, "ResourceNotFound")
    listed = await broker.client.get(
        TEMPORAL, params={"type": "Sensor"}, headers={"NGSILD-Tenant": "city"}
    )
    assert [e["id"] for e in listed.json()] == ["urn:ngsi-ld:Sensor:s1"]
    assert (await get(broker, TEMPORAL, type="Sensor")) == []
    problem(
        await broker.client.delete(url, headers={"NGSILD-Tenant": "nowhere"}),
        404,
        "NonexistentTenant",
    )


async def test_deleting_the_entity_keeps_its_history(broker: Broker) -> None:
    await seed(broker, speeds=(1, 2))
    assert (await broker.client.delete(f"{BASE}/entities/{V1}")).status_code == 204
    body = await get(broker, f"{TEMPORAL}/{V1}", options="temporalValues", attrs="speed")
    assert [v[0] for v in body["speed"]["values"]] == [1, 2]
