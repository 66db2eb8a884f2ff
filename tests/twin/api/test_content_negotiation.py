"""The HTTP binding around every NGSI-LD route (CIM 009 clause 6.3): Accept, Content-Type,
unknown paths and methods as ProblemDetails, and no 500 for any malformed input."""

from __future__ import annotations

from typing import Any

import pytest
from tests.twin.api.conftest import BASE, Broker, assert_problem

EID = "urn:ngsi-ld:Thing:1"


@pytest.fixture
async def thing(sqlite_broker: Broker) -> Broker:
    await sqlite_broker.create({"id": EID, "type": "Thing", "a": 1})
    return sqlite_broker


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("application/json", "application/json"),
        ("application/ld+json", "application/ld+json"),
        ("*/*", "application/json"),
        ("application/*", "application/json"),
        ("application/ld+json;q=0.9, application/json;q=0.5", "application/ld+json"),
        ("text/html, application/json;q=0.1", "application/json"),
        ("application/geo+json", "application/geo+json"),
    ],
)
async def test_accept_picks_the_representation(thing: Broker, accept: str, expected: str) -> None:
    response = await thing.client.get(f"{BASE}/entities/{EID}", headers={"Accept": accept})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == expected


@pytest.mark.parametrize(
    "accept", ["text/html", "application/xml", "application/json;q=0", "image/*"]
)
async def test_accept_that_cannot_be_met_is_406(thing: Broker, accept: str) -> None:
    response = await thing.client.get(f"{BASE}/entities/{EID}", headers={"Accept": accept})
    assert_problem(response, 406, None)
    response = await thing.client.get(
        f"{BASE}/entities", params={"type": "Thing"}, headers={"Accept": accept}
    )
    assert_problem(response, 406, None)


async def test_geojson_is_not_offered_for_types(thing: Broker) -> None:
    response = await thing.client.get(f"{BASE}/types", headers={"Accept": "application/geo+json"})
    assert_problem(response, 406, None)


async def test_content_type_with_charset_is_accepted(sqlite_broker: Broker) -> None:
    response = await sqlite_broker.client.post(
        f"{BASE}/entities",
        content=b'{"id": "urn:ngsi-ld:Thing:9", "type": "Thing"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "path", ["/entities", "/entityOperations/create", f"/entities/{EID}/attrs"]
)
async def test_wrong_content_type_is_415_everywhere(thing: Broker, path: str) -> None:
    response = await thing.client.post(
        f"{BASE}{path}", content=b"{}", headers={"Content-Type": "application/xml"}
    )
    assert_problem(response, 415, None)


async def test_merge_patch_type_only_for_merge(thing: Broker) -> None:
    response = await thing.client.post(
        f"{BASE}/entities",
        content=b'{"id": "urn:ngsi-ld:Thing:2", "type": "Thing"}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert_problem(response, 415, None)


async def test_unknown_path_is_404_problem(sqlite_broker: Broker) -> None:
    for path in ("/nothing", "/entities/urn:x:1/nothing/deeper", "/entityOperations/explode"):
        response = await sqlite_broker.client.get(f"{BASE}{path}")
        assert_problem(response, 404, "ResourceNotFound")


async def test_method_not_allowed_is_405_problem(sqlite_broker: Broker) -> None:
    for method, path in (
        ("PUT", "/entities"),
        ("DELETE", "/types"),
        ("GET", "/entityOperations/create"),
        ("POST", f"/entities/{EID}"),
    ):
        response = await sqlite_broker.client.request(method, f"{BASE}{path}")
        assert response.status_code == 405, response.text
        body = assert_problem(response, 405, None)
        assert body["type"].startswith("https://uri.etsi.org/ngsi-ld/errors/")


GARBAGE: list[bytes] = [
    b"",
    b"null",
    b"0",
    b"true",
    b'"text"',
    b"[]",
    b"{}",
    b"[null]",
    b"[1, 2]",
    b"[[]]",
    b'{"id": 5, "type": 5}',
    b'{"id": "urn:x:1", "type": ["A", 5]}',
    b'{"id": "urn:x:1", "type": "A", "a": {"type": "Property", "value": {"type": "Property"}}}',
    b'{"id": "urn:x:1", "type": "A", "a": [{"value": 1}, {"value": 2}]}',
    b'{"id": "urn:x:1", "type": "A", "a": {"type": "Relationship", "object": []}}',
    b'{"id": "urn:x:1", "type": "A", "location": {"type": "GeoProperty", "value": 5}}',
    b'{"id": "urn:x:1", "type": "A", "location": {"type": "Point", "coordinates": "x"}}',
    b'{"id": "urn:x:1", "type": "A", "a": {"type": "LanguageProperty", "languageMap": 5}}',
    b'{"id": "urn:x:1", "type": "A", "a": {"type": "Property", "value": 1, "datasetId": 5}}',
    b'{"id": "urn:x:1", "type": "A", "a": {"type": "Property", "value": 1, "unitCode": []}}',
    b'{"id": "urn:x:1", "type": "A", "scope": 5}',
    b'{"id": "urn:x:1", "type": "A", "": 1}',
    b'{"type": "Query", "entities": [5], "q": 5, "geoQ": 5}',
    b'{"type": "Query", "entities": [{"type": 5}], "attrs": "x"}',
    b'{"type": "Query", "geoQ": {"georel": 5, "geometry": [], "coordinates": {}}}',
    b'{"type": "Query", "entities": [{"type": "A"}], "geoQ": {"georel": "near;maxDistance==x",'
    b' "geometry": "Point", "coordinates": [1, 2]}}',
    b'{"@context": 5}',
    b"\xff\xfe\x00",
    b'{"id": "urn:x:1", "type": "A", "a": 1e999}',
    b"[" * 5000 + b"]" * 5000,
]
ENDPOINTS: list[tuple[str, str]] = [
    ("POST", "/entities"),
    ("PUT", f"/entities/{EID}"),
    ("PATCH", f"/entities/{EID}"),
    ("POST", f"/entities/{EID}/attrs"),
    ("PATCH", f"/entities/{EID}/attrs"),
    ("PATCH", f"/entities/{EID}/attrs/a"),
    ("PUT", f"/entities/{EID}/attrs/a"),
    ("POST", "/entityOperations/create"),
    ("POST", "/entityOperations/upsert"),
    ("POST", "/entityOperations/update"),
    ("POST", "/entityOperations/merge"),
    ("POST", "/entityOperations/delete"),
    ("POST", "/entityOperations/query"),
    ("POST", "/jsonldContexts"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_garbage_bodies_never_give_500(thing: Broker, method: str, path: str) -> None:
    for body in GARBAGE:
        for content_type in ("application/json", "application/ld+json"):
            response = await thing.client.request(
                method, f"{BASE}{path}", content=body, headers={"Content-Type": content_type}
            )
            assert response.status_code < 500, (body[:80], content_type, response.text)
            if response.status_code >= 400:
                assert_problem(response, response.status_code, None)


GARBAGE_PARAMS: list[dict[str, Any]] = [
    {"type": "("},
    {"type": ";;"},
    {"type": "A", "q": "a[["},
    {"type": "A", "q": "a==" + "(" * 200},
    {"type": "A", "q": 'a~="("'},
    {"type": "A", "q": "a.b.c.d[e.f]==1"},
    {"type": "A", "options": "nonsense"},
    {"type": "A", "options": "keyValues,concise"},
    {"type": "A", "attrs": ","},
    {"type": "A", "limit": "99999999999999999999999"},
    {"type": "A", "offset": "1.5"},
    {"type": "A", "georel": "near;maxDistance==1", "geometry": "Point", "coordinates": "{}"},
    {"type": "A", "georel": "within", "geometry": "Polygon", "coordinates": "[[[1,1]]]"},
    {"type": "A", "georel": "within", "geometry": "Point", "coordinates": "[NaN, 1]"},
    {"type": "A", "geometryProperty": "a"},
    {"idPattern": "(?P<x"},
    {"id": ","},
    {"type": "A", "datasetId": ""},
    {"type": "A", "pick": "", "omit": ""},
    {"type": "A", "count": "maybe"},
    {"type": "A", "local": "true"},
]


@pytest.mark.parametrize("params", GARBAGE_PARAMS)
async def test_garbage_query_parameters_never_give_500(
    thing: Broker, params: dict[str, Any]
) -> None:
    for accept in ("application/json", "application/geo+json"):
        response = await thing.client.get(
            f"{BASE}/entities", params=params, headers={"Accept": accept}
        )
        assert response.status_code < 500, (params, response.text)
        if response.status_code >= 400:
            assert_problem(response, response.status_code, None)
    response = await thing.client.get(f"{BASE}/entities/{EID}", params=params)
    assert response.status_code < 500, (params, response.text)


@pytest.mark.parametrize(
    "path",
    [
        "/entities/%00",
        "/entities/urn:x:%ZZ",
        "/entities/" + "urn:x:" + "a" * 5000,
        "/types/%",
        "/attributes/%2F%2F",
        "/jsonldContexts/%2E%2E",
    ],
)
async def test_odd_paths_never_give_500(sqlite_broker: Broker, path: str) -> None:
    for method in ("GET", "DELETE"):
        response = await sqlite_broker.client.request(method, f"{BASE}{path}")
        assert response.status_code < 500, (path, response.text)


@pytest.mark.parametrize("number", [b"1e999", b"-1e999", b"NaN", b"Infinity"])
async def test_non_finite_numbers_are_invalid_json(sqlite_broker: Broker, number: bytes) -> None:
    response = await sqlite_broker.client.post(
        f"{BASE}/entities",
        content=b'{"id": "urn:x:1", "type": "A", "a": ' + number + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 400, "InvalidRequest")
