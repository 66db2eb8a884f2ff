"""Query Entities over HTTP (CIM 009 clauses 6.4.3.2 and 6.23): type, id, idPattern, attrs, q,
geo-queries, paging and counting, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.twin.api.conftest import BASE, Broker, BrokerFactory, assert_problem

S1 = "urn:ngsi-ld:Sensor:1"
S2 = "urn:ngsi-ld:Sensor:2"
S3 = "urn:ngsi-ld:Station:3"
S4 = "urn:ngsi-ld:Thing:4"
ZONE = "urn:ngsi-ld:Zone:5"
MADRID = [[[-3.8, 40.3], [-3.6, 40.3], [-3.6, 40.5], [-3.8, 40.5], [-3.8, 40.3]]]


@pytest.fixture
async def make_broker(make_store_broker: BrokerFactory) -> BrokerFactory:
    """This module's behaviour depends on the store: every test runs on SQLite and PostgreSQL."""
    return make_store_broker


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


ENTITIES: list[dict[str, Any]] = [
    {
        "id": S1,
        "type": "Sensor",
        "temp": {
            "type": "Property",
            "value": 20,
            "observedAt": "2026-01-01T10:00:00Z",
            "accuracy": {"type": "Property", "value": 0.9},
        },
        "name": {"type": "Property", "value": "alpha"},
        "address": {
            "type": "Property",
            "value": {"city": "Madrid", "street": {"name": "Gran Via"}},
        },
        "refDevice": {"type": "Relationship", "object": "urn:ngsi-ld:Device:d1"},
        "location": point(-3.70, 40.41),
    },
    {
        "id": S2,
        "type": "Sensor",
        "temp": {
            "type": "Property",
            "value": 25,
            "observedAt": "2026-01-01T12:00:00Z",
            "accuracy": {"type": "Property", "value": 0.5},
        },
        "name": {"type": "Property", "value": "beta"},
        "address": {"type": "Property", "value": {"city": "Madrid", "street": {"name": "Alcala"}}},
        "location": point(-3.69, 40.42),
    },
    {
        "id": S3,
        "type": "Station",
        "temp": {"type": "Property", "value": 30},
        "name": {"type": "Property", "value": "gamma"},
        "address": {"type": "Property", "value": {"city": "Barcelona"}},
        "location": point(2.17, 41.38),
    },
    {
        "id": S4,
        "type": ["Sensor", "Station"],
        "temp": {"type": "Property", "value": 15},
        "name": {"type": "Property", "value": "delta"},
    },
    {
        "id": ZONE,
        "type": "Zone",
        "location": {"type": "GeoProperty", "value": {"type": "Polygon", "coordinates": MADRID}},
    },
]


@pytest.fixture
async def loaded(broker: Broker) -> Broker:
    response = await broker.client.post(f"{BASE}/entityOperations/create", json=ENTITIES)
    assert response.status_code == 201, response.text
    return broker


async def found(broker: Broker, **params: str) -> list[str]:
    response = await broker.client.get(f"{BASE}/entities", params=params)
    assert response.status_code == 200, response.text
    return sorted(e["id"] for e in response.json())


async def query_problem(broker: Broker, status: int, kind: str, **params: str) -> None:
    response = await broker.client.get(f"{BASE}/entities", params=params)
    assert_problem(response, status, kind)


# --- type, id, idPattern, attrs ---------------------------------------------------------------


async def test_query_by_type(loaded: Broker) -> None:
    assert await found(loaded, type="Sensor") == [S1, S2, S4]
    assert await found(loaded, type="Station") == [S3, S4]
    assert await found(loaded, type="Nothing") == []


async def test_query_by_type_or_list(loaded: Broker) -> None:
    assert await found(loaded, type="Sensor,Zone") == [S1, S2, S4, ZONE]
    assert await found(loaded, type="Station|Zone") == [S3, S4, ZONE]


async def test_query_by_type_and_selection(loaded: Broker) -> None:
    assert await found(loaded, type="(Sensor;Station)") == [S4]
    assert await found(loaded, type="Sensor;Station") == [S4]


async def test_query_by_bad_type_selection_is_400(loaded: Broker) -> None:
    await query_problem(loaded, 400, "BadRequestData", type="(Sensor;")


async def test_query_by_id_list(loaded: Broker) -> None:
    assert await found(loaded, id=f"{S1},{S3}") == [S1, S3]
    assert await found(loaded, id=S1, type="Station") == []


async def test_query_by_invalid_id_is_400(loaded: Broker) -> None:
    await query_problem(loaded, 400, "BadRequestData", id="not-a-uri")


async def test_query_by_id_pattern(loaded: Broker) -> None:
    assert await found(loaded, idPattern="^urn:ngsi-ld:Sensor:.*") == [S1, S2]
    assert await found(loaded, idPattern=".*:[34]$") == [S3, S4]


async def test_query_by_invalid_id_pattern_is_400(loaded: Broker) -> None:
    await query_problem(loaded, 400, "BadRequestData", idPattern="urn:(")


async def test_query_by_attrs(loaded: Broker) -> None:
    assert await found(loaded, attrs="refDevice") == [S1]
    response = await loaded.client.get(
        f"{BASE}/entities", params={"type": "Sensor", "attrs": "name"}
    )
    assert {tuple(sorted(e)) for e in response.json()} == {("id", "name", "type")}


# --- q ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        pytest.param("temp>20", [S2, S3], id="greater"),
        pytest.param("temp<=20", [S1, S4], id="less-equal"),
        pytest.param("temp!=20", [S2, S3, S4], id="not-equal"),
        pytest.param("temp==20..25", [S1, S2], id="range"),
        pytest.param("temp==15,30", [S3, S4], id="list"),
        pytest.param('name=="alpha"', [S1], id="string"),
        pytest.param('name=="alpha","gamma"', [S1, S3], id="string-list"),
        pytest.param('name~="^(a|b)"', [S1, S2], id="regex"),
        pytest.param('name~="(?i)^ALPHA$"', [S1], id="regex-case-insensitive"),
        pytest.param("temp>=20;temp<=25", [S1, S2], id="and"),
        pytest.param('temp<20|name=="gamma"', [S3, S4], id="or"),
        pytest.param("(temp>=20;temp<=25)|temp==15", [S1, S2, S4], id="parentheses"),
        pytest.param("refDevice", [S1], id="existence"),
        pytest.param('refDevice=="urn:ngsi-ld:Device:d1"', [S1], id="relationship"),
        pytest.param("temp.accuracy>0.8", [S1], id="sub-attribute"),
        pytest.param('temp.observedAt>="2026-01-01T11:00:00Z"', [S2], id="observedAt"),
        pytest.param('address[city]=="Madrid"', [S1, S2], id="compound"),
        pytest.param('address[street.name]=="Gran Via"', [S1], id="compound-nested"),
    ],
)
async def test_query_q(loaded: Broker, q: str, expected: list[str]) -> None:
    assert await found(loaded, q=q) == expected


@pytest.mark.parametrize(
    "q", ["temp>>1", "(temp>1", "temp==", 'name=="open', "temp>1;;", "==3", "temp=~1"]
)
async def test_query_invalid_q_is_400(loaded: Broker, q: str) -> None:
    await query_problem(loaded, 400, "BadRequestData", q=q)


# --- geo --------------------------------------------------------------------------------------

HERE = json.dumps([-3.70, 40.41])
MADRID_TEXT = json.dumps(MADRID)
TYPES = "Sensor,Station"


async def test_geo_near_max_distance(loaded: Broker) -> None:
    params = {"georel": "near;maxDistance==2000", "geometry": "Point", "coordinates": HERE}
    assert await found(loaded, type=TYPES, **params) == [S1, S2]
    params["georel"] = "near;maxDistance==100"
    assert await found(loaded, type=TYPES, **params) == [S1]


async def test_geo_near_min_distance(loaded: Broker) -> None:
    params = {"georel": "near;minDistance==2000", "geometry": "Point", "coordinates": HERE}
    assert await found(loaded, type=TYPES, **params) == [S3]


async def test_geo_within_polygon(loaded: Broker) -> None:
    params = {"georel": "within", "geometry": "Polygon", "coordinates": MADRID_TEXT}
    assert await found(loaded, type=TYPES, **params) == [S1, S2]


async def test_geo_intersects(loaded: Broker) -> None:
    params = {"georel": "intersects", "geometry": "Polygon", "coordinates": MADRID_TEXT}
    assert await found(loaded, **params) == [S1, S2, ZONE]


async def test_geo_contains(loaded: Broker) -> None:
    inside = json.dumps([-3.75, 40.35])
    params = {"georel": "contains", "geometry": "Point", "coordinates": inside}
    assert await found(loaded, **params) == [ZONE]


async def test_geo_disjoint(loaded: Broker) -> None:
    params = {"georel": "disjoint", "geometry": "Polygon", "coordinates": MADRID_TEXT}
    assert await found(loaded, type=TYPES, **params) == [S3]


async def test_geo_equals(loaded: Broker) -> None:
    params = {"georel": "equals", "geometry": "Point", "coordinates": json.dumps([2.17, 41.38])}
    assert await found(loaded, **params) == [S3]


async def test_geo_overlaps(loaded: Broker) -> None:
    half = [[[-3.7, 40.4], [-3.5, 40.4], [-3.5, 40.6], [-3.7, 40.6], [-3.7, 40.4]]]
    params = {"georel": "overlaps", "geometry": "Polygon", "coordinates": json.dumps(half)}
    assert await found(loaded, **params) == [ZONE]


async def test_geo_with_geoproperty(broker: Broker) -> None:
    entity = {"id": S1, "type": "Sensor", "origin": point(10.0, 50.0), "location": point(0, 0)}
    await broker.create(entity)
    params = {
        "georel": "near;maxDistance==10",
        "geometry": "Point",
        "coordinates": json.dumps([10.0, 50.0]),
    }
    assert await found(broker, geoproperty="origin", **params) == [S1]
    assert await found(broker, **params) == []


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"geometry": "Point", "coordinates": HERE}, id="no-georel"),
        pytest.param({"georel": "within", "coordinates": HERE}, id="no-geometry"),
        pytest.param({"georel": "near;maxDistance==1", "geometry": "Point"}, id="no-coordinates"),
        pytest.param(
            {"georel": "near", "geometry": "Point", "coordinates": HERE}, id="near-no-distance"
        ),
        pytest.param(
            {"georel": "nearby", "geometry": "Point", "coordinates": HERE}, id="unknown-georel"
        ),
        pytest.param(
            {"georel": "within", "geometry": "Circle", "coordinates": HERE}, id="unknown-geometry"
        ),
        pytest.param(
            {"georel": "within", "geometry": "Point", "coordinates": "[1,"}, id="bad-json"
        ),
        pytest.param(
            {"georel": "within", "geometry": "Point", "coordinates": "[200, 100]"},
            id="out-of-range",
        ),
        pytest.param(
            {"georel": "within", "geometry": "Polygon", "coordinates": "[[[0,0],[1,1]]]"},
            id="open-polygon",
        ),
        pytest.param(
            {"georel": "near;maxDistance==-5", "geometry": "Point", "coordinates": HERE},
            id="negative-distance",
        ),
    ],
)
async def test_geo_bad_query_is_400(loaded: Broker, params: dict[str, str]) -> None:
    await query_problem(loaded, 400, "BadRequestData", type=TYPES, **params)


# --- paging and counting ----------------------------------------------------------------------


async def test_paging_with_limit_and_offset(loaded: Broker) -> None:
    response = await loaded.client.get(f"{BASE}/entities", params={"type": "Sensor", "limit": "2"})
    assert [e["id"] for e in response.json()] == [S1, S2]
    assert "NGSILD-Results-Count" not in response.headers
    response = await loaded.client.get(
        f"{BASE}/entities", params={"type": "Sensor", "limit": "2", "offset": "2"}
    )
    assert [e["id"] for e in response.json()] == [S4]


async def test_count_header_only_with_count(loaded: Broker) -> None:
    response = await loaded.client.get(
        f"{BASE}/entities", params={"type": "Sensor", "limit": "1", "count": "true"}
    )
    assert response.headers["NGSILD-Results-Count"] == "3"
    assert len(response.json()) == 1
    response = await loaded.client.get(
        f"{BASE}/entities", params={"type": "Sensor", "count": "false"}
    )
    assert "NGSILD-Results-Count" not in response.headers


async def test_limit_zero_with_count(loaded: Broker) -> None:
    response = await loaded.client.get(
        f"{BASE}/entities", params={"type": "Sensor", "limit": "0", "count": "true"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == []
    assert response.headers["NGSILD-Results-Count"] == "3"


async def test_limit_zero_without_count_is_400(loaded: Broker) -> None:
    await query_problem(loaded, 400, "BadRequestData", type="Sensor", limit="0")


async def test_limit_over_maximum_is_403_too_many_results(loaded: Broker) -> None:
    await query_problem(loaded, 403, "TooManyResults", type="Sensor", limit="1001")


@pytest.mark.parametrize("params", [{"limit": "-1"}, {"limit": "x"}, {"offset": "-3"}])
async def test_bad_paging_is_400(loaded: Broker, params: dict[str, str]) -> None:
    await query_problem(loaded, 400, "BadRequestData", type="Sensor", **params)


async def test_query_without_filter_is_400(loaded: Broker) -> None:
    await query_problem(loaded, 400, "BadRequestData")
    await query_problem(loaded, 400, "BadRequestData", limit="5")


async def test_query_on_empty_broker(broker: Broker) -> None:
    assert await found(broker, type="Sensor") == []


# --- representation ---------------------------------------------------------------------------


async def test_query_key_values(loaded: Broker) -> None:
    response = await loaded.client.get(
        f"{BASE}/entities", params={"id": S3, "options": "keyValues"}
    )
    assert response.json() == [
        {
            "id": S3,
            "type": "Station",
            "temp": 30,
            "name": "gamma",
            "address": {"city": "Barcelona"},
            "location": {"type": "Point", "coordinates": [2.17, 41.38]},
        }
    ]


async def test_query_geojson(loaded: Broker) -> None:
    response = await loaded.client.get(
        f"{BASE}/entities",
        params={"type": "Sensor", "options": "keyValues"},
        headers={"Accept": "application/geo+json"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "FeatureCollection"
    features = {f["id"]: f for f in body["features"]}
    assert features[S1]["geometry"] == {"type": "Point", "coordinates": [-3.70, 40.41]}
    assert features[S4]["geometry"] is None


async def test_post_query(loaded: Broker) -> None:
    response = await loaded.client.post(
        f"{BASE}/entityOperations/query",
        json={
            "type": "Query",
            "entities": [{"type": "Sensor"}],
            "q": "temp>=20",
            "geoQ": {
                "georel": "near;maxDistance==2000",
                "geometry": "Point",
                "coordinates": [-3.70, 40.41],
            },
        },
    )
    assert response.status_code == 200, response.text
    assert sorted(e["id"] for e in response.json()) == [S1, S2]


async def test_post_query_with_id_pattern_and_count(loaded: Broker) -> None:
    response = await loaded.client.post(
        f"{BASE}/entityOperations/query",
        params={"count": "true", "limit": "1"},
        json={"type": "Query", "entities": [{"idPattern": ".*Sensor.*"}]},
    )
    assert response.status_code == 200, response.text
    assert response.headers["NGSILD-Results-Count"] == "2"
    assert [e["id"] for e in response.json()] == [S1]


async def test_post_query_without_query_type_is_400(loaded: Broker) -> None:
    response = await loaded.client.post(
        f"{BASE}/entityOperations/query", json={"entities": [{"type": "Sensor"}]}
    )
    assert_problem(response, 400, "BadRequestData")


@pytest.mark.parametrize(
    "body",
    [
        {"type": "Query", "entities": [{"type": "Sensor"}], "q": "temp>>"},
        {"type": "Query", "entities": "Sensor"},
        {"type": "Query", "entities": [{"type": "Sensor"}], "geoQ": {"georel": "within"}},
        {"type": "Query", "entities": [{"idPattern": "("}]},
    ],
)
async def test_post_query_bad_body_is_400(loaded: Broker, body: dict[str, Any]) -> None:
    response = await loaded.client.post(f"{BASE}/entityOperations/query", json=body)
    assert_problem(response, 400, "BadRequestData")


@pytest.mark.parametrize("params", [{"limit": "x"}, {"limit": "5000"}, {"offset": "-1"}])
async def test_post_query_bad_paging(loaded: Broker, params: dict[str, str]) -> None:
    response = await loaded.client.post(
        f"{BASE}/entityOperations/query",
        params=params,
        json={"type": "Query", "entities": [{"type": "Sensor"}]},
    )
    assert response.status_code in (400, 403), response.text
    assert_problem(response, response.status_code, None)
