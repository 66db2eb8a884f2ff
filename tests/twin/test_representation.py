"""Rendering canonical entities: normalized, concise, keyValues and GeoJSON (CIM 009 §4.5)."""

from __future__ import annotations

from typing import Any

import pytest

from twinspace.twin import representation
from twinspace.twin.context import NGSI_LD, SDM_CONTEXT_URL, TermMap, bundled_context
from twinspace.twin.entity import Entity, parse_entity
from twinspace.twin.errors import NgsiError
from twinspace.twin.representation import (
    feature_collection,
    render_entity,
    render_geojson,
)

T0 = "2026-11-24T10:00:00.000000Z"
ENV = "https://smartdatamodels.org/dataModel.Environment/"
NO2 = ENV + "NO2"
PM10 = ENV + "PM10"
LOCATION = NGSI_LD + "location"
POINT = {"type": "Point", "coordinates": [-3.7, 40.4]}
OBSERVED = "2026-11-24T10:04:00Z"


def sdm() -> TermMap:
    document = bundled_context(SDM_CONTEXT_URL)
    assert document is not None
    return TermMap.build([document["@context"]])


TERMS = sdm()


def make(**attrs: Any) -> Entity:
    payload = {"id": "urn:ngsi-ld:AirQualityObserved:1", "type": "AirQualityObserved", **attrs}
    return parse_entity(payload, TERMS, T0)


def sample() -> Entity:
    return make(
        NO2={"value": 22.5, "unitCode": "GQ", "observedAt": OBSERVED},
        PM10=10,
        location=POINT,
        refDevice={"object": "urn:ngsi-ld:Device:d1"},
        name={"languageMap": {"es": "Estación"}},
    )


def roundtrip(rendered: dict[str, Any]) -> Entity:
    return parse_entity(rendered, TERMS, T0)


# --------------------------------------------------------------------------- normalized


def test_normalized_compacts_names_and_types() -> None:
    out = render_entity(sample(), TERMS)
    assert out["id"] == "urn:ngsi-ld:AirQualityObserved:1"
    assert out["type"] == "AirQualityObserved"
    assert out["NO2"] == {
        "type": "Property",
        "value": 22.5,
        "unitCode": "GQ",
        "observedAt": OBSERVED,
    }
    assert out["location"] == {"type": "GeoProperty", "value": POINT}
    assert out["refDevice"] == {"type": "Relationship", "object": "urn:ngsi-ld:Device:d1"}
    assert out["name"] == {"type": "LanguageProperty", "languageMap": {"es": "Estación"}}


def test_normalized_omits_system_attributes_by_default() -> None:
    out = render_entity(sample(), TERMS)
    assert "createdAt" not in out and "createdAt" not in out["NO2"]


def test_sys_attrs_adds_timestamps_on_entity_and_instances() -> None:
    out = render_entity(sample(), TERMS, sys_attrs=True)
    assert out["createdAt"] == out["modifiedAt"] == T0
    assert out["NO2"]["createdAt"] == T0


def test_several_types_render_as_a_list() -> None:
    entity = make(type=["AirQualityObserved", "Device"])
    assert render_entity(entity, TERMS)["type"] == ["Device", "AirQualityObserved"]


def test_scope_renders_as_a_string_when_single() -> None:
    assert render_entity(make(scope="/a"), TERMS)["scope"] == "/a"


def test_sub_attributes_render_compacted() -> None:
    out = render_entity(make(NO2={"value": 1, "accuracy": 0.9}), TERMS)
    assert out["NO2"]["accuracy"] == {"type": "Property", "value": 0.9}


def test_multi_attribute_renders_as_a_list() -> None:
    entity = make(NO2=[{"value": 1}, {"value": 2, "datasetId": "urn:d:a"}])
    assert render_entity(entity, TERMS)["NO2"] == [
        {"type": "Property", "value": 1},
        {"type": "Property", "value": 2, "datasetId": "urn:d:a"},
    ]


def test_list_relationship_normalized_uses_object_members() -> None:
    entity = make(refDevice={"objectList": ["urn:a:1", "urn:a:2"]})
    assert render_entity(entity, TERMS)["refDevice"]["objectList"] == [
        {"object": "urn:a:1"},
        {"object": "urn:a:2"},
    ]


def test_vocab_and_object_type_are_compacted() -> None:
    entity = make(
        kind={"vocab": "NO2"}, refDevice={"object": "urn:ngsi-ld:Device:d1", "objectType": "Device"}
    )
    out = render_entity(entity, TERMS)
    assert out["kind"]["vocab"] == "NO2"
    assert out["refDevice"]["objectType"] == "Device"


def test_normalized_round_trips() -> None:
    entity = sample()
    assert roundtrip(render_entity(entity, TERMS)) == entity


# --------------------------------------------------------------------------- filters


def test_attrs_filter_keeps_only_listed_iris() -> None:
    out = render_entity(sample(), TERMS, attrs={NO2})
    assert set(out) == {"id", "type", "NO2"}


def test_dataset_id_filter() -> None:
    entity = make(NO2=[{"value": 1}, {"value": 2, "datasetId": "urn:d:a"}], PM10=3)
    out = render_entity(entity, TERMS, dataset_id={"urn:d:a"})
    assert out["NO2"] == {"type": "Property", "value": 2, "datasetId": "urn:d:a"}
    assert "PM10" not in out


def test_dataset_id_none_selects_default_instances() -> None:
    entity = make(NO2=[{"value": 1}, {"value": 2, "datasetId": "urn:d:a"}])
    assert render_entity(entity, TERMS, dataset_id={"@none"})["NO2"]["value"] == 1


def test_unknown_form_is_bad_request_data() -> None:
    with pytest.raises(NgsiError) as caught:
        render_entity(sample(), TERMS, form="compact")
    assert caught.value.kind == "BadRequestData"


# --------------------------------------------------------------------------- concise


def concise(entity: Entity) -> dict[str, Any]:
    return render_entity(entity, TERMS, form="concise")


def test_concise_property_with_only_a_value_is_bare() -> None:
    assert concise(sample())["PM10"] == 10


def test_concise_property_with_metadata_drops_type() -> None:
    assert concise(sample())["NO2"] == {"value": 22.5, "unitCode": "GQ", "observedAt": OBSERVED}


def test_concise_relationship_drops_type() -> None:
    assert concise(sample())["refDevice"] == {"object": "urn:ngsi-ld:Device:d1"}


def test_concise_location_is_the_bare_geometry() -> None:
    assert concise(sample())["location"] == POINT


def test_concise_geo_property_under_another_name_keeps_its_type() -> None:
    entity = make(area={"type": "GeoProperty", "value": POINT})
    assert concise(entity)["area"] == {"type": "GeoProperty", "value": POINT}


def test_concise_property_holding_a_geometry_under_location_keeps_its_type() -> None:
    entity = make(location={"type": "Property", "value": POINT})
    assert concise(entity)["location"] == {"type": "Property", "value": POINT}


def test_concise_property_with_an_attribute_like_value_is_wrapped() -> None:
    entity = make(NO2={"type": "Property", "value": {"value": 1}})
    assert concise(entity)["NO2"] == {"value": {"value": 1}}


def test_concise_multi_attribute_members_stay_objects() -> None:
    entity = make(NO2=[{"value": 1}, {"value": 2, "datasetId": "urn:d:a"}])
    assert concise(entity)["NO2"] == [{"value": 1}, {"value": 2, "datasetId": "urn:d:a"}]


def test_concise_sub_attributes_are_concise() -> None:
    entity = make(NO2={"value": 1, "accuracy": 0.9})
    assert concise(entity)["NO2"] == {"value": 1, "accuracy": 0.9}


@pytest.mark.parametrize(
    "attrs",
    [
        {"NO2": {"value": 22.5, "unitCode": "GQ", "observedAt": OBSERVED}},
        {"location": POINT, "area": {"type": "GeoProperty", "value": POINT}},
        {"location": {"type": "Property", "value": POINT}},
        {"NO2": {"type": "Property", "value": {"value": 1}}},
        {"NO2": {"type": "Property", "value": [{"object": "urn:x:1"}]}},
        {"NO2": [{"value": 1}, {"value": 2, "datasetId": "urn:d:a"}]},
        {"refDevice": {"objectList": ["urn:a:1"]}, "name": {"languageMap": {"en": "x"}}},
        {"kind": {"vocab": "NO2"}, "blob": {"type": "JsonProperty", "json": {"a": 1}}},
        {"NO2": {"value": 1, "accuracy": {"value": 0.9, "method": "m"}}},
    ],
)
def test_concise_round_trips(attrs: dict[str, Any]) -> None:
    entity = make(**attrs)
    assert roundtrip(concise(entity)) == entity


# --------------------------------------------------------------------------- keyValues


def key_values(entity: Entity, **kwargs: Any) -> dict[str, Any]:
    return render_entity(entity, TERMS, form="keyValues", **kwargs)


def test_key_values_gives_values_objects_and_geometries() -> None:
    out = key_values(sample())
    assert out["NO2"] == 22.5
    assert out["refDevice"] == "urn:ngsi-ld:Device:d1"
    assert out["location"] == POINT


def test_simplified_is_an_alias_of_key_values() -> None:
    assert render_entity(sample(), TERMS, form="simplified") == key_values(sample())


def test_key_values_wraps_language_maps_and_lists() -> None:
    entity = make(
        name={"languageMap": {"en": "x"}},
        NO2={"valueList": [1, 2]},
        refDevice={"objectList": ["urn:a:1"]},
        kind={"vocab": "NO2"},
    )
    out = key_values(entity)
    assert out["name"] == {"languageMap": {"en": "x"}}
    assert out["NO2"] == {"valueList": [1, 2]}
    assert out["refDevice"] == {"objectList": ["urn:a:1"]}
    assert out["kind"] == {"vocab": "NO2"}


def test_key_values_multi_attribute_uses_a_dataset_map() -> None:
    entity = make(NO2=[{"value": 1}, {"value": 2, "datasetId": "urn:d:a"}])
    assert key_values(entity)["NO2"] == {"dataset": {"@none": 1, "urn:d:a": 2}}


def test_key_values_sys_attrs_only_on_the_entity() -> None:
    out = key_values(sample(), sys_attrs=True)
    assert out["createdAt"] == T0
    assert out["NO2"] == 22.5


# --------------------------------------------------------------------------- GeoJSON


def test_geojson_feature() -> None:
    feature = render_geojson(sample(), TERMS, geometry_property=LOCATION)
    assert feature["id"] == "urn:ngsi-ld:AirQualityObserved:1"
    assert feature["type"] == "Feature"
    assert feature["geometry"] == POINT
    assert feature["properties"]["type"] == "AirQualityObserved"
    assert feature["properties"]["NO2"]["value"] == 22.5
    assert feature["properties"]["location"] == {"type": "GeoProperty", "value": POINT}


def test_geojson_default_geometry_property_is_location() -> None:
    assert render_geojson(sample(), TERMS)["geometry"] == POINT


def test_geojson_geometry_property_may_be_a_term() -> None:
    line = {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}
    entity = make(area={"type": "GeoProperty", "value": line})
    assert render_geojson(entity, TERMS, geometry_property="area")["geometry"] == line


def test_geojson_without_the_geometry_property_has_null_geometry() -> None:
    assert render_geojson(make(NO2=1), TERMS)["geometry"] is None


def test_geojson_key_values_properties() -> None:
    feature = render_geojson(sample(), TERMS, form="keyValues", attrs={NO2})
    assert feature["properties"] == {"type": "AirQualityObserved", "NO2": 22.5}
    assert feature["geometry"] == POINT


def test_render_entity_with_a_geometry_property_gives_a_feature() -> None:
    out = render_entity(sample(), TERMS, geometry_property="location")
    assert out["type"] == "Feature"


def test_feature_collection() -> None:
    features = [render_geojson(sample(), TERMS)]
    assert feature_collection(iter(features)) == {"type": "FeatureCollection", "features": features}


@pytest.mark.parametrize(
    "attrs",
    [
        {"refDevice": {"objectList": ["urn:a:1"], "objectType": "Device"}},
        {"kind": {"vocab": ["NO2", "PM10"]}},
        {"blob": {"type": "JsonProperty", "json": [1, {"a": 2}]}},
        {"NO2": {"valueList": [1, 2], "unitCode": "GQ"}},
        {"NO2": [{"value": 1, "accuracy": 0.5}, {"value": 2, "datasetId": "urn:d:a"}]},
    ],
)
def test_normalized_round_trips_every_attribute_type(attrs: dict[str, Any]) -> None:
    entity = make(**attrs)
    assert roundtrip(render_entity(entity, TERMS)) == entity


# --------------------------------------------------------------------------- key_values


KINDS = {
    "plain": {"NO2": {"value": 22.5, "unitCode": "GQ", "observedAt": OBSERVED}, "PM10": 10},
    "geo": {"location": POINT},
    "relationship": {"refDevice": {"object": "urn:ngsi-ld:Device:d1"}},
    "relationships": {"refDevice": {"object": ["urn:ngsi-ld:Device:d1", "urn:x:2"]}},
    "language": {"name": {"languageMap": {"es": "Estación", "en": "Station"}}},
    "list": {"readings": {"valueList": [1, 2, 3]}},
    "list relationship": {"refs": {"objectList": [{"object": "urn:x:1"}]}},
    "vocab": {"category": {"vocab": "AirQualityObserved"}},
    "json": {"payload": {"json": {"a": [1, {"b": None}]}}},
    "datasets": {
        "NO2": [
            {"type": "Property", "value": 1},
            {"type": "Property", "value": 2, "datasetId": "urn:ngsi-ld:Dataset:forecast"},
        ]
    },
    "sub-attributes": {"NO2": {"value": 3, "accuracy": {"value": 0.5}}},
    "scope": {"scope": ["/Madrid/Centro", "/Madrid"]},
    "one scope": {"scope": "/Madrid"},
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_key_values_equals_the_keyvalues_rendering(kind: str) -> None:
    entity = make(**KINDS[kind])
    assert representation.key_values(entity, TERMS) == render_entity(
        entity, TERMS, form="keyValues"
    )


def test_key_values_of_a_multi_typed_entity() -> None:
    entity = parse_entity(
        {"id": "urn:x:m", "type": ["AirQualityObserved", "Device"], "NO2": 1}, TERMS, T0
    )
    assert representation.key_values(entity, TERMS) == render_entity(
        entity, TERMS, form="keyValues"
    )
    assert sorted(representation.key_values(entity, TERMS)["type"]) == [
        "AirQualityObserved",
        "Device",
    ]
