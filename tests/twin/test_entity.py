"""Parsing NGSI-LD entities into the canonical form, and the pure entity operations."""

from __future__ import annotations

from typing import Any

import pytest

from twinspace.twin.context import DEFAULT_VOCAB, NGSI_LD, SDM_CONTEXT_URL, TermMap, bundled_context
from twinspace.twin.entity import (
    NGSI_NULL,
    Entity,
    append_attrs,
    changed_instances,
    delete_attr,
    is_uri,
    merge_entity,
    parse_attributes,
    parse_entity,
    parse_fragment,
    parse_scope,
    patch_attr,
    replace_entity,
    update_attrs,
    validate_geometry,
)
from twinspace.twin.errors import NgsiError

T0 = "2026-11-24T10:00:00.000000Z"
T1 = "2026-11-24T10:05:00.000000Z"
ENV = "https://smartdatamodels.org/dataModel.Environment/"
NO2 = ENV + "NO2"
PM10 = ENV + "PM10"
REF = "https://smartdatamodels.org/refDevice"
LOCATION = NGSI_LD + "location"
AQO = ENV + "AirQualityObserved"
POINT = {"type": "Point", "coordinates": [-3.7, 40.4]}


def sdm() -> TermMap:
    document = bundled_context(SDM_CONTEXT_URL)
    assert document is not None
    return TermMap.build([document["@context"]])


TERMS = sdm()


def entity(**attrs: Any) -> dict[str, Any]:
    return {"id": "urn:ngsi-ld:AirQualityObserved:1", "type": "AirQualityObserved", **attrs}


def parse(payload: dict[str, Any], now: str = T0) -> Entity:
    return parse_entity(payload, TERMS, now)


def bad(payload: Any) -> NgsiError:
    with pytest.raises(NgsiError) as caught:
        parse_entity(payload, TERMS, T0)
    return caught.value


# --------------------------------------------------------------------------- entity members


def test_minimal_entity() -> None:
    assert parse(entity()) == {
        "id": "urn:ngsi-ld:AirQualityObserved:1",
        "type": [AQO],
        "createdAt": T0,
        "modifiedAt": T0,
        "attrs": {},
    }


def test_types_are_expanded_sorted_and_unique() -> None:
    parsed = parse(entity(type=["WeatherObserved", "AirQualityObserved", "AirQualityObserved"]))
    assert parsed["type"] == [AQO, "https://smartdatamodels.org/dataModel.Weather/WeatherObserved"]


def test_context_member_is_ignored() -> None:
    assert parse(entity(**{"@context": SDM_CONTEXT_URL}))["attrs"] == {}


def test_system_attributes_in_input_are_ignored() -> None:
    parsed = parse(entity(createdAt="2000-01-01T00:00:00Z", modifiedAt="2000-01-01T00:00:00Z"))
    assert parsed["createdAt"] == parsed["modifiedAt"] == T0


def test_scope_is_kept_as_a_list() -> None:
    assert parse(entity(scope="/Madrid/Centro"))["scope"] == ["/Madrid/Centro"]


def test_scope_is_absent_unless_given() -> None:
    assert "scope" not in parse(entity())


@pytest.mark.parametrize("scope", ["Madrid", "/Madrid/", "/a//b", "/a/#", 5])
def test_invalid_scope_is_bad_request_data(scope: Any) -> None:
    assert bad(entity(scope=scope)).kind == "BadRequestData"


def test_scope_null_means_remove_when_allowed() -> None:
    assert parse_scope(NGSI_NULL, allow_null=True) == []


def test_entity_must_be_an_object() -> None:
    assert bad([entity()]).kind == "BadRequestData"


def test_missing_id_is_bad_request_data() -> None:
    error = bad({"type": "AirQualityObserved"})
    assert (error.kind, error.detail) == ("BadRequestData", "An entity needs an id")


@pytest.mark.parametrize("entity_id", ["not a uri", "relative/path", "urn:has space", 42, ""])
def test_id_must_be_an_absolute_uri(entity_id: Any) -> None:
    error = bad({"id": entity_id, "type": "T"})
    assert error.kind == "BadRequestData"
    assert "absolute URI" in error.detail


def test_missing_type_is_bad_request_data() -> None:
    assert bad({"id": "urn:x:1"}).detail == "An entity needs a type"


def test_empty_type_list_is_bad_request_data() -> None:
    assert bad({"id": "urn:x:1", "type": []}).kind == "BadRequestData"


@pytest.mark.parametrize("char", ["<", ">", '"', "'", "=", ";", "(", ")", " "])
def test_forbidden_characters_in_attribute_names(char: str) -> None:
    error = bad(entity(**{f"bad{char}name": 1}))
    assert error.kind == "BadRequestData"
    assert "forbidden character" in error.detail


def test_forbidden_characters_in_type_names() -> None:
    assert "forbidden" in bad({"id": "urn:x:1", "type": "A(B)"}).detail


def test_is_uri() -> None:
    assert is_uri("urn:ngsi-ld:Thing:1") and not is_uri("thing")


# --------------------------------------------------------------------------- attribute types


def test_normalized_property_with_metadata() -> None:
    raw = {
        "type": "Property",
        "value": 22.5,
        "unitCode": "GQ",
        "observedAt": "2026-11-24T10:04:00Z",
    }
    assert parse(entity(NO2=raw))["attrs"][NO2] == [
        {
            "type": "Property",
            "value": 22.5,
            "unitCode": "GQ",
            "observedAt": "2026-11-24T10:04:00Z",
            "createdAt": T0,
            "modifiedAt": T0,
        }
    ]


def test_concise_bare_value_is_a_property() -> None:
    assert parse(entity(NO2=22.5))["attrs"][NO2][0]["type"] == "Property"


def test_concise_value_object_is_a_property() -> None:
    instance = parse(entity(NO2={"value": 3, "unitCode": "GQ"}))["attrs"][NO2][0]
    assert (instance["type"], instance["value"], instance["unitCode"]) == ("Property", 3, "GQ")


def test_plain_object_value_is_a_property_value() -> None:
    address = {"streetAddress": "Gran Via 1", "addressLocality": "Madrid"}
    instance = parse(entity(address=address))["attrs"]["https://smartdatamodels.org/address"][0]
    assert instance["value"] == address


def test_list_of_scalars_is_a_property_value() -> None:
    assert parse(entity(NO2=[1, 2]))["attrs"][NO2][0]["value"] == [1, 2]


def test_concise_object_is_a_relationship() -> None:
    instance = parse(entity(refDevice={"object": "urn:ngsi-ld:Device:d1"}))["attrs"][REF][0]
    assert (instance["type"], instance["object"]) == ("Relationship", "urn:ngsi-ld:Device:d1")


def test_relationship_object_may_be_a_list() -> None:
    raw = {"type": "Relationship", "object": ["urn:a:1", "urn:a:2"]}
    assert parse(entity(refDevice=raw))["attrs"][REF][0]["object"] == ["urn:a:1", "urn:a:2"]


def test_relationship_object_must_be_a_uri() -> None:
    error = bad(entity(refDevice={"type": "Relationship", "object": "device 1"}))
    assert "absolute URI" in error.detail


def test_relationship_object_type_is_expanded() -> None:
    raw = {"object": "urn:ngsi-ld:Device:d1", "objectType": "Device"}
    instance = parse(entity(refDevice=raw))["attrs"][REF][0]
    assert instance["objectType"] == "https://smartdatamodels.org/dataModel.Device/Device"


def test_object_type_on_a_property_is_bad_request_data() -> None:
    assert bad(entity(NO2={"value": 1, "objectType": "Device"})).kind == "BadRequestData"


def test_relationship_without_object_is_bad_request_data() -> None:
    error = bad(entity(refDevice={"type": "Relationship", "value": "urn:x:1"}))
    assert error.kind == "BadRequestData"


def test_concise_geometry_under_location_is_a_geo_property() -> None:
    assert parse(entity(location=POINT))["attrs"][LOCATION][0] == {
        "type": "GeoProperty",
        "value": POINT,
        "createdAt": T0,
        "modifiedAt": T0,
    }


def test_concise_value_geometry_under_location_is_a_geo_property() -> None:
    assert parse(entity(location={"value": POINT}))["attrs"][LOCATION][0]["type"] == "GeoProperty"


@pytest.mark.parametrize("name", ["observationSpace", "operationSpace"])
def test_other_core_geo_names_take_geometries(name: str) -> None:
    assert parse(entity(**{name: POINT}))["attrs"][NGSI_LD + name][0]["type"] == "GeoProperty"


def test_geometry_under_another_name_is_a_property() -> None:
    assert parse(entity(area=POINT))["attrs"][DEFAULT_VOCAB + "area"][0]["type"] == "Property"


def test_geometry_under_a_geo_declared_term_is_a_geo_property() -> None:
    terms = TermMap.build(
        [{"area": {"@id": "http://example.org/area", "@type": "geojson:Geometry"}}]
    )
    parsed = parse_entity(entity(area=POINT), terms, T0)
    assert parsed["attrs"]["http://example.org/area"][0]["type"] == "GeoProperty"


def test_language_property() -> None:
    raw = {"languageMap": {"es": "Estación", "en": "Station"}}
    instance = parse(entity(name=raw))["attrs"]["https://smartdatamodels.org/name"][0]
    assert (instance["type"], instance["languageMap"]) == ("LanguageProperty", raw["languageMap"])


def test_language_map_keys_must_be_language_tags() -> None:
    assert "language tag" in bad(entity(name={"languageMap": {"not a tag": "x"}})).detail


def test_list_property() -> None:
    instance = parse(entity(NO2={"valueList": [1, 2, 3]}))["attrs"][NO2][0]
    assert (instance["type"], instance["valueList"]) == ("ListProperty", [1, 2, 3])


def test_value_list_must_be_an_array() -> None:
    assert bad(entity(NO2={"type": "ListProperty", "valueList": 3})).kind == "BadRequestData"


def test_list_relationship_accepts_object_members() -> None:
    raw = {"type": "ListRelationship", "objectList": [{"object": "urn:a:1"}, "urn:a:2"]}
    assert parse(entity(refDevice=raw))["attrs"][REF][0]["objectList"] == ["urn:a:1", "urn:a:2"]


def test_vocab_property_values_are_expanded() -> None:
    instance = parse(entity(kind={"vocab": "NO2"}))["attrs"][DEFAULT_VOCAB + "kind"][0]
    assert (instance["type"], instance["vocab"]) == ("VocabProperty", NO2)


def test_vocabulary_property_alias_is_accepted() -> None:
    raw = {"type": "VocabularyProperty", "vocab": "x"}
    assert parse(entity(kind=raw))["attrs"][DEFAULT_VOCAB + "kind"][0]["type"] == "VocabProperty"


def test_json_property_keeps_its_json() -> None:
    raw = {"type": "JsonProperty", "json": {"type": "Property", "value": 1}}
    instance = parse(entity(blob=raw))["attrs"][DEFAULT_VOCAB + "blob"][0]
    assert instance["json"] == {"type": "Property", "value": 1}


def test_unknown_attribute_type_is_bad_request_data() -> None:
    assert "unknown attribute type" in bad(entity(NO2={"type": "Prop", "value": 1})).detail


def test_mixed_value_members_are_bad_request_data() -> None:
    error = bad(entity(NO2={"type": "Property", "value": 1, "object": "urn:x:1"}))
    assert error.kind == "BadRequestData"


def test_null_value_is_bad_request_data() -> None:
    assert bad(entity(NO2=None)).kind == "BadRequestData"


def test_ngsi_ld_null_is_bad_request_data_on_create() -> None:
    assert "urn:ngsi-ld:null" in bad(entity(NO2={"type": "Property", "value": NGSI_NULL})).detail


@pytest.mark.parametrize(
    "observed", ["2026-11-24", "yesterday", "2026-13-01T00:00:00Z", "2026-02-30T10:00:00Z", 5]
)
def test_observed_at_must_be_a_datetime(observed: Any) -> None:
    error = bad(entity(NO2={"value": 1, "observedAt": observed}))
    assert error.kind == "BadRequestData"
    assert "observedAt" in error.detail


@pytest.mark.parametrize(
    "observed", ["2026-11-24T10:04:00Z", "2026-11-24T10:04:00.123Z", "2026-11-24T10:04:00+01:00"]
)
def test_observed_at_accepts_iso_datetimes(observed: str) -> None:
    assert parse(entity(NO2={"value": 1, "observedAt": observed}))["attrs"][NO2][0]["observedAt"]


def test_unit_code_must_be_a_string() -> None:
    assert "unitCode" in bad(entity(NO2={"value": 1, "unitCode": 5})).detail


def test_dataset_id_must_be_a_uri() -> None:
    assert "datasetId" in bad(entity(NO2={"value": 1, "datasetId": "forecast"})).detail


def test_system_members_of_instances_are_ignored() -> None:
    raw = {"value": 1, "createdAt": "2000-01-01T00:00:00Z", "instanceId": "urn:x:1"}
    assert parse(entity(NO2=raw))["attrs"][NO2][0]["createdAt"] == T0


def test_duplicate_attribute_after_expansion_is_bad_request_data() -> None:
    assert "twice" in bad(entity(NO2=1, **{NO2: 2})).detail


# --------------------------------------------------------------------------- sub-attributes


def test_sub_attributes_are_expanded_single_instances() -> None:
    instance = parse(entity(NO2={"value": 1, "accuracy": 0.9}))["attrs"][NO2][0]
    assert instance["subAttrs"] == {DEFAULT_VOCAB + "accuracy": {"type": "Property", "value": 0.9}}


def test_relationship_sub_attribute() -> None:
    instance = parse(entity(NO2={"value": 1, "refDevice": {"object": "urn:d:1"}}))["attrs"][NO2][0]
    assert instance["subAttrs"][REF] == {"type": "Relationship", "object": "urn:d:1"}


def test_sub_sub_attributes_nest() -> None:
    raw = {"value": 1, "accuracy": {"value": 0.9, "method": "x"}}
    sub = parse(entity(NO2=raw))["attrs"][NO2][0]["subAttrs"][DEFAULT_VOCAB + "accuracy"]
    assert sub["subAttrs"] == {DEFAULT_VOCAB + "method": {"type": "Property", "value": "x"}}


def test_invalid_sub_attribute_name_is_bad_request_data() -> None:
    assert "forbidden" in bad(entity(NO2={"value": 1, "a=b": 2})).detail


def test_too_deep_sub_attributes_are_bad_request_data() -> None:
    raw: dict[str, Any] = {"value": 0}
    for _ in range(10):
        raw = {"value": 1, "inner": raw}
    assert "deeper" in bad(entity(NO2=raw)).detail


# --------------------------------------------------------------------------- multi-attributes


def test_list_of_instances_is_a_multi_attribute_default_first() -> None:
    raw = [
        {"type": "Property", "value": 2, "datasetId": "urn:ngsi-ld:Dataset:forecast"},
        {"type": "Property", "value": 1},
    ]
    instances = parse(entity(NO2=raw))["attrs"][NO2]
    assert [i["value"] for i in instances] == [1, 2]
    assert "datasetId" not in instances[0]
    assert instances[1]["datasetId"] == "urn:ngsi-ld:Dataset:forecast"


def test_duplicate_dataset_ids_are_bad_request_data() -> None:
    raw = [{"value": 1, "datasetId": "urn:d:1"}, {"value": 2, "datasetId": "urn:d:1"}]
    assert "more than once" in bad(entity(NO2=raw)).detail


def test_two_default_instances_are_bad_request_data() -> None:
    assert "default instance" in bad(entity(NO2=[{"value": 1}, {"value": 2}])).detail


# --------------------------------------------------------------------------- GeoJSON


def geo_error(geometry: Any) -> str:
    with pytest.raises(NgsiError) as caught:
        validate_geometry(geometry, "location")
    assert caught.value.kind == "BadRequestData"
    return caught.value.detail


@pytest.mark.parametrize(
    "geometry",
    [
        POINT,
        {"type": "Point", "coordinates": [1, 2, 3]},
        {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
        {"type": "MultiPoint", "coordinates": [[0, 0], [1, 1]]},
        {"type": "MultiLineString", "coordinates": [[[0, 0], [1, 1]]]},
        {"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 0]]]]},
    ],
)
def test_valid_geometries(geometry: dict[str, Any]) -> None:
    assert validate_geometry(geometry, "location") is geometry


def test_unsupported_geometry_type() -> None:
    assert "unsupported GeoJSON geometry type 'Circle'" in geo_error({"type": "Circle"})


def test_geometry_without_coordinates() -> None:
    assert "no coordinates" in geo_error({"type": "Point"})


def test_longitude_out_of_range() -> None:
    assert "longitude 200 out of range" in geo_error({"type": "Point", "coordinates": [200, 0]})


def test_latitude_out_of_range() -> None:
    assert "latitude -91 out of range" in geo_error({"type": "Point", "coordinates": [0, -91]})


def test_non_numeric_coordinates() -> None:
    assert "must be numbers" in geo_error({"type": "Point", "coordinates": ["0", 1]})


def test_booleans_are_not_coordinates() -> None:
    assert "must be numbers" in geo_error({"type": "Point", "coordinates": [True, 1]})


def test_wrong_nesting_names_the_path() -> None:
    detail = geo_error({"type": "LineString", "coordinates": [[0, 0], 5]})
    assert "coordinates[1]" in detail


def test_short_line_string() -> None:
    assert "at least 2" in geo_error({"type": "LineString", "coordinates": [[0, 0]]})


def test_open_polygon_ring() -> None:
    ring = [[0, 0], [1, 0], [1, 1], [0, 1]]
    assert "closed" in geo_error({"type": "Polygon", "coordinates": [ring]})


def test_short_polygon_ring() -> None:
    assert "at least 4" in geo_error({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]})


def test_invalid_geometry_in_an_entity_names_the_attribute() -> None:
    error = bad(entity(location={"type": "GeoProperty", "value": {"type": "Point"}}))
    assert error.detail.startswith("Attribute 'location'")


# --------------------------------------------------------------------------- fragments


def test_parse_attributes_skips_entity_members() -> None:
    fragment = parse_attributes({"id": "urn:x:1", "type": "T", "NO2": 1}, TERMS, T0)
    assert list(fragment) == [NO2]


def test_parse_attributes_allows_nulls_when_asked() -> None:
    fragment = parse_attributes({"NO2": NGSI_NULL}, TERMS, T0, allow_null=True)
    assert fragment[NO2][0]["value"] == NGSI_NULL


def test_parse_fragment_carries_type_and_scope() -> None:
    fragment = parse_fragment({"type": "Device", "scope": "/a", "NO2": 1}, TERMS, T0)
    assert fragment["type"] == ["https://smartdatamodels.org/dataModel.Device/Device"]
    assert fragment["scope"] == ["/a"]
    assert list(fragment["attrs"]) == [NO2]


# --------------------------------------------------------------------------- operations


def base() -> Entity:
    return parse(
        entity(
            NO2={"value": 1, "observedAt": "2026-11-24T10:00:00Z", "accuracy": 0.9},
            PM10=[{"value": 5}, {"value": 6, "datasetId": "urn:d:forecast"}],
            location=POINT,
        )
    )


def fragment(payload: dict[str, Any], *, allow_null: bool = False) -> dict[str, Any]:
    return parse_attributes(payload, TERMS, T1, allow_null=allow_null)


def test_replace_keeps_created_at_of_the_entity_and_kept_instances() -> None:
    old = base()
    new = replace_entity(old, parse(entity(NO2=2, O3=3), T1), T1)
    assert new["createdAt"] == T0 and new["modifiedAt"] == T1
    assert new["attrs"][NO2][0]["createdAt"] == T0
    assert new["attrs"][ENV + "O3"][0]["createdAt"] == T1
    assert PM10 not in new["attrs"]


def test_replace_with_another_id_is_bad_request_data() -> None:
    with pytest.raises(NgsiError) as caught:
        replace_entity(base(), parse({"id": "urn:x:2", "type": "T"}, T1), T1)
    assert caught.value.kind == "BadRequestData"


def test_operations_never_mutate_their_input() -> None:
    old = base()
    snapshot = repr(old)
    merge_entity(old, fragment({"NO2": {"value": 2, "accuracy": NGSI_NULL}}, allow_null=True), T1)
    append_attrs(old, fragment({"NO2": 3, "O3": 1}), T1, no_overwrite=False)
    update_attrs(old, fragment({"PM10": 9}), T1)
    patch_attr(old, NO2, {"value": 4}, T1, terms=TERMS)
    delete_attr(old, PM10, T1, delete_all=True)
    assert repr(old) == snapshot


def test_append_adds_and_overwrites() -> None:
    new, updated, not_updated = append_attrs(
        base(), fragment({"NO2": 7, "O3": 1}), T1, no_overwrite=False
    )
    assert updated == [NO2, ENV + "O3"] and not_updated == []
    assert new["attrs"][NO2][0]["value"] == 7
    assert new["attrs"][NO2][0]["createdAt"] == T0
    assert new["attrs"][NO2][0]["modifiedAt"] == T1
    assert new["modifiedAt"] == T1


def test_append_with_no_overwrite_keeps_existing() -> None:
    new, updated, not_updated = append_attrs(
        base(), fragment({"NO2": 7, "O3": 1}), T1, no_overwrite=True
    )
    assert updated == [ENV + "O3"]
    assert not_updated == [
        {"attributeName": NO2, "reason": "the attribute exists and noOverwrite is set"}
    ]
    assert new["attrs"][NO2][0]["value"] == 1


def test_append_a_new_dataset_instance_sorts_after_the_default() -> None:
    new, _, _ = append_attrs(
        base(), fragment({"NO2": {"value": 9, "datasetId": "urn:d:a"}}), T1, no_overwrite=True
    )
    assert [i.get("datasetId") for i in new["attrs"][NO2]] == [None, "urn:d:a"]


def test_update_only_touches_existing_attributes() -> None:
    new, updated, not_updated = update_attrs(base(), fragment({"NO2": 2, "O3": 3}), T1)
    assert updated == [NO2]
    assert not_updated == [{"attributeName": ENV + "O3", "reason": "the attribute does not exist"}]
    assert ENV + "O3" not in new["attrs"]
    assert new["attrs"][NO2][0]["value"] == 2


def test_update_of_a_missing_dataset_instance_is_not_updated() -> None:
    _, updated, not_updated = update_attrs(
        base(), fragment({"NO2": {"value": 2, "datasetId": "urn:d:x"}}), T1
    )
    assert updated == []
    assert "urn:d:x" in not_updated[0]["reason"]


def test_update_replaces_the_whole_instance() -> None:
    new, _, _ = update_attrs(base(), fragment({"NO2": 2}), T1)
    assert "subAttrs" not in new["attrs"][NO2][0]
    assert "observedAt" not in new["attrs"][NO2][0]


def test_merge_keeps_unmentioned_members_and_sub_attributes() -> None:
    new = merge_entity(
        base(), fragment({"NO2": {"value": 2, "unitCode": "GQ"}}, allow_null=True), T1
    )
    instance = new["attrs"][NO2][0]
    assert instance["value"] == 2 and instance["unitCode"] == "GQ"
    assert instance["observedAt"] == "2026-11-24T10:00:00Z"
    assert DEFAULT_VOCAB + "accuracy" in instance["subAttrs"]
    assert instance["createdAt"] == T0 and instance["modifiedAt"] == T1


def test_merge_null_deletes_an_attribute() -> None:
    new = merge_entity(base(), fragment({"NO2": NGSI_NULL}, allow_null=True), T1)
    assert NO2 not in new["attrs"]


def test_merge_null_deletes_a_sub_attribute() -> None:
    new = merge_entity(
        base(), fragment({"NO2": {"value": 2, "accuracy": NGSI_NULL}}, allow_null=True), T1
    )
    assert "subAttrs" not in new["attrs"][NO2][0]


def test_merge_null_deletes_metadata() -> None:
    new = merge_entity(
        base(), fragment({"NO2": {"value": 2, "observedAt": NGSI_NULL}}, allow_null=True), T1
    )
    assert "observedAt" not in new["attrs"][NO2][0]


def test_merge_null_deletes_one_dataset_instance() -> None:
    raw = {"PM10": {"value": NGSI_NULL, "datasetId": "urn:d:forecast"}}
    new = merge_entity(base(), fragment(raw, allow_null=True), T1)
    assert [i.get("datasetId") for i in new["attrs"][PM10]] == [None]


def test_merge_adds_new_attributes() -> None:
    new = merge_entity(base(), fragment({"O3": 4}, allow_null=True), T1)
    assert new["attrs"][ENV + "O3"][0]["createdAt"] == T1


def test_merge_of_a_partial_entity_adds_types_and_replaces_scope() -> None:
    partial = parse_fragment({"type": "Device", "scope": "/b", "O3": 4}, TERMS, T1)
    new = merge_entity(base(), partial, T1)
    assert new["type"] == ["https://smartdatamodels.org/dataModel.Device/Device", AQO]
    assert new["scope"] == ["/b"]
    assert ENV + "O3" in new["attrs"]


def test_merge_scope_null_removes_the_scope() -> None:
    old = parse(entity(scope="/a"))
    new = merge_entity(old, parse_fragment({"scope": NGSI_NULL}, TERMS, T1), T1)
    assert "scope" not in new


def test_merge_keeps_a_geo_property_geo() -> None:
    other = {"type": "Point", "coordinates": [1, 2]}
    raw = {"location": {"type": "Property", "value": other}}
    new = merge_entity(base(), fragment(raw, allow_null=True), T1)
    assert new["attrs"][LOCATION][0] == {**new["attrs"][LOCATION][0], "type": "GeoProperty"}
    assert new["attrs"][LOCATION][0]["value"] == other


def test_patch_attr_from_a_raw_body_merges_members() -> None:
    new = patch_attr(base(), NO2, {"value": 5}, T1, terms=TERMS)
    instance = new["attrs"][NO2][0]
    assert instance["value"] == 5 and instance["observedAt"] == "2026-11-24T10:00:00Z"


def test_patch_attr_metadata_only_keeps_the_value() -> None:
    new = patch_attr(base(), NO2, {"unitCode": "GP"}, T1, terms=TERMS)
    instance = new["attrs"][NO2][0]
    assert (instance["value"], instance["unitCode"]) == (1, "GP")


def test_patch_attr_of_a_dataset_instance() -> None:
    new = patch_attr(base(), PM10, {"value": 60}, T1, "urn:d:forecast", TERMS)
    assert [i["value"] for i in new["attrs"][PM10]] == [5, 60]


def test_patch_attr_null_deletes_the_instance() -> None:
    new = patch_attr(base(), NO2, {"value": NGSI_NULL}, T1, terms=TERMS)
    assert NO2 not in new["attrs"]


def test_patch_attr_of_a_missing_attribute_is_resource_not_found() -> None:
    with pytest.raises(NgsiError) as caught:
        patch_attr(base(), ENV + "O3", {"value": 1}, T1, terms=TERMS)
    assert caught.value.kind == "ResourceNotFound"


def test_patch_attr_of_a_missing_dataset_is_resource_not_found() -> None:
    with pytest.raises(NgsiError) as caught:
        patch_attr(base(), NO2, {"value": 1}, T1, "urn:d:none", TERMS)
    assert caught.value.kind == "ResourceNotFound"


def test_patch_attr_with_a_parsed_instance() -> None:
    parsed = fragment({"NO2": {"value": 8}}, allow_null=True)[NO2][0]
    assert patch_attr(base(), NO2, parsed, T1)["attrs"][NO2][0]["value"] == 8


def test_delete_attr_default_instance() -> None:
    new = delete_attr(base(), PM10, T1)
    assert [i.get("datasetId") for i in new["attrs"][PM10]] == ["urn:d:forecast"]
    assert new["modifiedAt"] == T1


def test_delete_attr_by_dataset_id() -> None:
    new = delete_attr(base(), PM10, dataset_id="urn:d:forecast")
    assert [i.get("datasetId") for i in new["attrs"][PM10]] == [None]


def test_delete_attr_none_dataset_means_default() -> None:
    new = delete_attr(base(), PM10, dataset_id="@none")
    assert [i.get("datasetId") for i in new["attrs"][PM10]] == ["urn:d:forecast"]


def test_delete_attr_all_instances() -> None:
    assert PM10 not in delete_attr(base(), PM10, delete_all=True)["attrs"]


def test_delete_last_instance_removes_the_attribute() -> None:
    assert NO2 not in delete_attr(base(), NO2)["attrs"]


def test_delete_missing_attribute_is_resource_not_found() -> None:
    with pytest.raises(NgsiError) as caught:
        delete_attr(base(), ENV + "O3")
    assert caught.value.kind == "ResourceNotFound"


def test_delete_missing_dataset_instance_is_resource_not_found() -> None:
    with pytest.raises(NgsiError) as caught:
        delete_attr(base(), NO2, dataset_id="urn:d:none")
    assert caught.value.kind == "ResourceNotFound"


# --------------------------------------------------------------------------- changes


def test_every_instance_of_a_new_entity_is_a_change() -> None:
    changes = changed_instances(None, base())
    assert sorted((iri, i.get("datasetId", "")) for iri, i in changes) == sorted(
        [(NO2, ""), (PM10, ""), (PM10, "urn:d:forecast"), (LOCATION, "")]
    )


def test_only_changed_instances_are_listed() -> None:
    old = base()
    new, _, _ = append_attrs(old, fragment({"NO2": 7, "PM10": 5}), T1, no_overwrite=False)
    assert [(iri, i["value"]) for iri, i in changed_instances(old, new)] == [(NO2, 7)]


def test_deleted_instances_are_not_changes() -> None:
    old = base()
    assert changed_instances(old, delete_attr(old, NO2, T1)) == []


# --------------------------------------------------------------------------- plain Properties
# The common Property (scalar value, observedAt, unitCode) has a short path through the parser;
# these pin that it gives what the general path gives, errors included.


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "Property", "value": 22.5},
        {"type": "Property", "value": 22.5, "unitCode": "GQ", "observedAt": "2026-11-24T10:04:00Z"},
        {"type": "Property", "value": "text", "observedAt": "2026-11-24T10:04:00Z"},
        {"type": "Property", "value": True},
        {"type": "Property", "value": 0},
    ],
)
def test_plain_properties_parse_as_the_general_path_does(raw: dict[str, Any]) -> None:
    out = parse(entity(NO2=raw))["attrs"][NO2]
    general = parse(entity(NO2={**raw, "datasetId": "urn:ngsi-ld:Dataset:d"}))["attrs"][NO2]
    assert out == [{k: v for k, v in general[0].items() if k != "datasetId"}]
    assert out[0]["createdAt"] == out[0]["modifiedAt"] == T0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"type": "Property", "value": 1, "observedAt": "yesterday"}, "observedAt"),
        ({"type": "Property", "value": 1, "unitCode": ""}, "unitCode"),
        ({"type": "Property", "value": 1, "unitCode": 7}, "unitCode"),
        ({"type": "Property", "value": NGSI_NULL}, "null"),
    ],
)
def test_plain_properties_are_checked(raw: dict[str, Any], message: str) -> None:
    error = bad(entity(NO2=raw))
    assert error.kind == "BadRequestData" and message in str(error)


def test_a_null_observed_at_deletes_it_where_nulls_are_allowed() -> None:
    fragment = parse_fragment(
        {"NO2": {"type": "Property", "value": 5, "observedAt": NGSI_NULL}}, TERMS, T1
    )
    assert fragment["attrs"][NO2][0]["observedAt"] == NGSI_NULL
