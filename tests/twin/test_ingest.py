"""The pure MQTT message parser: topics, keyValues conversion, batches, contexts, errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from twinspace.twin.ingest import (
    DEFAULT_PREFIX,
    IngestBatch,
    IngestError,
    is_errors_topic,
    is_geometry,
    key_values_entity,
    parse_message,
    tenant_segment,
)

P = DEFAULT_PREFIX
POINT = {"type": "Point", "coordinates": [-3.7, 40.4]}
AQ = "urn:ngsi-ld:AirQualityObserved:ES-Madrid-1"


def parse(topic: str, payload: Any, prefix: str = P) -> IngestBatch:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return parse_message(topic, raw, prefix)


def reason(topic: str, payload: Any, prefix: str = P) -> str:
    with pytest.raises(IngestError) as caught:
        parse(topic, payload, prefix)
    assert str(caught.value) == caught.value.reason
    return caught.value.reason


def one(topic: str, payload: Any) -> dict[str, Any]:
    batch = parse(topic, payload)
    assert len(batch.entities) == 1
    return batch.entities[0]


# --- topics and tenants -------------------------------------------------------------------


def test_default_tenant_segment_is_the_empty_tenant() -> None:
    batch = parse(f"{P}/default/AirQualityObserved/{AQ}", {"NO2": 1})
    assert batch.tenant == ""
    assert tenant_segment("") == "default"
    assert tenant_segment("acme") == "acme"


def test_named_tenant() -> None:
    assert parse(f"{P}/acme/AirQualityObserved/{AQ}", {"NO2": 1}).tenant == "acme"


def test_entity_id_from_topic_as_is_when_absolute() -> None:
    entity = one(f"{P}/default/AirQualityObserved/{AQ}", {"NO2": 1})
    assert entity["id"] == AQ
    assert entity["type"] == "AirQualityObserved"


def test_short_entity_id_becomes_an_ngsi_ld_urn() -> None:
    entity = one(f"{P}/default/AirQualityObserved/ES-Madrid-1", {"NO2": 1})
    assert entity["id"] == AQ


def test_entity_id_may_contain_slashes() -> None:
    entity = one(f"{P}/default/Thing/urn:x:a/b", {"v": 1})
    assert entity["id"] == "urn:x:a/b"


def test_prefix_with_slashes_and_surrounding_slashes() -> None:
    batch = parse("a/b/c/default/T/urn:x:1", {"v": 1}, prefix="/a/b/c/")
    assert batch.entities[0]["id"] == "urn:x:1"


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("other/default/T/urn:x:1", "is not under the prefix"),
        (f"{P}/default", "must be"),
        (f"{P}//T/urn:x:1", "must be"),
        (f"{P}/default/T/", "must be"),
        (f"{P}/default/T", "lacks the entity id"),
        (f"{P}/default/errors", "errors topic"),
        (f"{P}/a b/T/urn:x:1", "invalid tenant"),
    ],
)
def test_bad_topics(topic: str, expected: str) -> None:
    assert expected in reason(topic, {"v": 1})


def test_errors_topic_recognised() -> None:
    assert is_errors_topic(f"{P}/default/errors", P)
    assert is_errors_topic(f"{P}/acme/errors", P)
    assert not is_errors_topic(f"{P}/acme/errors/x", P)
    assert not is_errors_topic(f"{P}/acme/batch", P)
    assert not is_errors_topic("elsewhere/acme/errors", P)


# --- payload decoding -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"", "payload is empty"),
        (b"  ", "payload is empty"),
        (b"{nope", "not valid JSON"),
        (b'{"v": NaN}', "NaN is not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"42", "must be a JSON object"),
    ],
)
def test_bad_payloads_on_entity_topic(payload: bytes, expected: str) -> None:
    assert expected in reason(f"{P}/default/T/urn:x:1", payload)


# --- keyValues conversion ------------------------------------------------------------------


def test_plain_values_become_properties() -> None:
    values = {"n": 22.5, "i": 3, "s": "text", "b": False, "l": [1, 2], "d": {"k": "v"}}
    entity = one(f"{P}/default/T/urn:x:1", values)
    for name, value in values.items():
        assert entity[name] == {"type": "Property", "value": value}


def test_geometry_under_location_and_any_key_is_a_geoproperty() -> None:
    line = {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}
    entity = one(f"{P}/default/T/urn:x:1", {"location": POINT, "route": line})
    assert entity["location"] == {"type": "GeoProperty", "value": POINT}
    assert entity["route"] == {"type": "GeoProperty", "value": line}


@pytest.mark.parametrize(
    "geometry_type",
    ["Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"],
)
def test_all_geometry_types_recognised(geometry_type: str) -> None:
    assert is_geometry({"type": geometry_type, "coordinates": []})


def test_non_geometries_stay_properties() -> None:
    assert not is_geometry({"type": "Point"})
    assert not is_geometry({"type": "Feature", "coordinates": []})
    entity = one(f"{P}/default/T/urn:x:1", {"shape": {"type": "Point", "coordinates": "x"}})
    assert entity["shape"]["type"] == "Property"


@pytest.mark.parametrize("name", ["location", "observationSpace", "operationSpace"])
def test_geo_keys_must_be_geometries(name: str) -> None:
    assert f"{name} must be a GeoJSON geometry" in reason(f"{P}/default/T/urn:x:1", {name: "here"})


def test_ref_with_urn_is_a_relationship() -> None:
    entity = one(f"{P}/default/T/urn:x:1", {"refDevice": "urn:ngsi-ld:Device:d1"})
    assert entity["refDevice"] == {"type": "Relationship", "object": "urn:ngsi-ld:Device:d1"}


def test_ref_with_list_of_urns_is_a_list_relationship() -> None:
    urns = ["urn:ngsi-ld:Device:d1", "urn:ngsi-ld:Device:d2"]
    entity = one(f"{P}/default/T/urn:x:1", {"refDevices": urns})
    assert entity["refDevices"] == {
        "type": "ListRelationship",
        "objectList": [{"object": urns[0]}, {"object": urns[1]}],
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("refDevice", "not-a-urn"),
        ("refDevice", "https://example.org/d1"),
        ("refDevice", 7),
        ("refDevice", []),
        ("refDevice", ["urn:ngsi-ld:Device:d1", "nope"]),
        ("reference", "urn:ngsi-ld:Device:d1"),
        ("ref", "urn:ngsi-ld:Device:d1"),
    ],
)
def test_other_ref_values_stay_properties(name: str, value: Any) -> None:
    entity = one(f"{P}/default/T/urn:x:1", {name: value})
    assert entity[name] == {"type": "Property", "value": value}


def test_observed_at_applies_to_every_attribute_and_is_not_one() -> None:
    at = "2026-11-24T10:04:00Z"
    entity = one(
        f"{P}/default/T/urn:x:1",
        {"NO2": 1, "location": POINT, "refDevice": "urn:ngsi-ld:Device:d", "observedAt": at},
    )
    assert "observedAt" not in entity
    for name in ("NO2", "location", "refDevice"):
        assert entity[name]["observedAt"] == at


def test_date_observed_is_the_fallback_and_stays_an_attribute() -> None:
    at = "2026-11-24T10:04:00+00:00"
    entity = one(f"{P}/default/T/urn:x:1", {"NO2": 1, "dateObserved": at})
    assert entity["NO2"]["observedAt"] == at
    assert entity["dateObserved"] == {"type": "Property", "value": at, "observedAt": at}


def test_observed_at_wins_over_date_observed() -> None:
    entity = one(
        f"{P}/default/T/urn:x:1",
        {"NO2": 1, "dateObserved": "2026-01-01T00:00:00Z", "observedAt": "2026-02-02T00:00:00Z"},
    )
    assert entity["NO2"]["observedAt"] == "2026-02-02T00:00:00Z"


def test_unparseable_date_observed_is_just_a_property() -> None:
    entity = one(f"{P}/default/T/urn:x:1", {"NO2": 1, "dateObserved": "yesterday"})
    assert "observedAt" not in entity["NO2"]
    assert entity["dateObserved"] == {"type": "Property", "value": "yesterday"}


def test_no_timestamp_no_observed_at() -> None:
    assert one(f"{P}/default/T/urn:x:1", {"NO2": 1})["NO2"] == {"type": "Property", "value": 1}


@pytest.mark.parametrize("value", ["yesterday", "2026-11-24", 1700000000, None])
def test_bad_observed_at(value: Any) -> None:
    assert "observedAt must be an ISO 8601 date-time" in reason(
        f"{P}/default/T/urn:x:1", {"NO2": 1, "observedAt": value}
    )


def test_type_member_must_match_topic() -> None:
    entity = one(f"{P}/default/AirQualityObserved/{AQ}", {"type": "AirQualityObserved", "NO2": 1})
    assert entity["type"] == "AirQualityObserved"
    assert "type" not in {k for k, v in entity.items() if isinstance(v, dict)}
    assert "does not match the topic type" in reason(
        f"{P}/default/AirQualityObserved/{AQ}", {"type": "WeatherObserved", "NO2": 1}
    )


def test_type_member_may_be_expanded_or_a_list() -> None:
    iri = "https://smartdatamodels.org/dataModel.Environment/AirQualityObserved"
    one(f"{P}/default/AirQualityObserved/{AQ}", {"type": iri})
    one(f"{P}/default/AirQualityObserved/{AQ}", {"type": ["Other", "AirQualityObserved"]})
    assert "non-empty string" in reason(f"{P}/default/T/urn:x:1", {"type": []})
    assert "non-empty string" in reason(f"{P}/default/T/urn:x:1", {"type": 5})


def test_scope_is_the_entity_scope() -> None:
    entity = one(f"{P}/default/T/urn:x:1", {"scope": "/Madrid/Centro", "v": 1})
    assert entity["scope"] == "/Madrid/Centro"
    entity = one(f"{P}/default/T/urn:x:1", {"scope": ["/a", "/b"]})
    assert entity["scope"] == ["/a", "/b"]
    assert "scope must be" in reason(f"{P}/default/T/urn:x:1", {"scope": 3})
    assert "scope must be" in reason(f"{P}/default/T/urn:x:1", {"scope": []})


def test_null_empty_and_system_attributes_rejected() -> None:
    assert "attribute 'NO2' is null" in reason(f"{P}/default/T/urn:x:1", {"NO2": None})
    assert "must not be empty" in reason(f"{P}/default/T/urn:x:1", {"": 1})
    for name in ("createdAt", "modifiedAt", "deletedAt"):
        assert "system attribute" in reason(
            f"{P}/default/T/urn:x:1", {name: "2026-01-01T00:00:00Z"}
        )


def test_empty_key_values_object_is_an_entity_without_attributes() -> None:
    assert one(f"{P}/default/T/urn:x:1", {}) == {"id": "urn:x:1", "type": "T"}


def test_key_values_entity_directly() -> None:
    assert key_values_entity({"v": 1}, "T", "urn:x:1") == {
        "id": "urn:x:1",
        "type": "T",
        "v": {"type": "Property", "value": 1},
    }


# --- normalized / concise entities on an entity topic -----------------------------------


def test_normalized_entity_passes_through() -> None:
    payload = {
        "id": AQ,
        "type": "AirQualityObserved",
        "NO2": {"type": "Property", "value": 22.5, "unitCode": "GQ"},
    }
    assert one(f"{P}/default/AirQualityObserved/{AQ}", payload) == payload


def test_concise_entity_without_type_gets_the_topic_type() -> None:
    entity = one(f"{P}/default/AirQualityObserved/{AQ}", {"id": AQ, "NO2": 22.5})
    assert entity == {"id": AQ, "NO2": 22.5, "type": "AirQualityObserved"}


def test_entity_topic_checks_id_and_type() -> None:
    topic = f"{P}/default/AirQualityObserved/{AQ}"
    assert "does not match the topic id" in reason(topic, {"id": "urn:x:other", "NO2": 1})
    assert "does not match the topic type" in reason(topic, {"id": AQ, "type": "Weather"})
    assert "must be an absolute URI" in reason(topic, {"id": "relative", "NO2": 1})
    assert "must be an absolute URI" in reason(topic, {"id": 5})


# --- batch topic ----------------------------------------------------------------------------


def test_batch_topic() -> None:
    entities = [
        {"id": "urn:x:1", "type": "T", "v": {"type": "Property", "value": 1}},
        {"id": "urn:x:2", "type": ["T", "U"], "v": 2},
        {"id": "urn:x:1", "type": "T", "v": 3},
    ]
    batch = parse(f"{P}/acme/batch", entities)
    assert batch == IngestBatch(tenant="acme", entities=entities, context=None)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"id": "urn:x:1"}, "must be a JSON array"),
        ([], "empty array"),
        ([1], "batch entity 0 is not a JSON object"),
        ([{"id": "urn:x:1", "type": "T"}, {"type": "T"}], "batch entity 1: entity id"),
        ([{"id": "urn:x:1"}], "batch entity 0 (urn:x:1) has no type"),
        ([{"id": "urn:x:1", "type": ""}], "non-empty string"),
        (
            [{"id": "urn:x:1", "type": "T", "@context": "u1"}, {"id": "urn:x:2", "type": "T"}],
            "share one @context",
        ),
    ],
)
def test_bad_batches(payload: Any, expected: str) -> None:
    assert expected in reason(f"{P}/default/batch", payload)


# --- @context ---------------------------------------------------------------------------------


def test_no_context_means_none() -> None:
    assert parse(f"{P}/default/T/urn:x:1", {"v": 1}).context is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://example.org/ctx.jsonld", ["https://example.org/ctx.jsonld"]),
        ({"v": "https://example.org/v"}, [{"v": "https://example.org/v"}]),
        (
            ["https://a/ctx", {"v": "https://example.org/v"}],
            ["https://a/ctx", {"v": "https://example.org/v"}],
        ),
    ],
)
def test_context_forms_normalised_to_a_list(value: Any, expected: list[Any]) -> None:
    batch = parse(f"{P}/default/T/urn:x:1", {"@context": value, "v": 1})
    assert batch.context == expected
    assert "@context" not in batch.entities[0]


def test_context_removed_from_normalized_and_batch_entities() -> None:
    entity = {"id": "urn:x:1", "type": "T", "@context": "https://a/ctx"}
    single = parse(f"{P}/default/T/urn:x:1", entity)
    assert single.context == ["https://a/ctx"]
    assert single.entities == [{"id": "urn:x:1", "type": "T"}]
    batch = parse(f"{P}/default/batch", [entity, {**entity, "id": "urn:x:2"}])
    assert batch.context == ["https://a/ctx"]
    assert all("@context" not in e for e in batch.entities)


@pytest.mark.parametrize("value", [[], 5, [""], ["https://a/ctx", 3], ""])
def test_bad_contexts(value: Any) -> None:
    assert "@context" in reason(f"{P}/default/T/urn:x:1", {"@context": value, "v": 1})
