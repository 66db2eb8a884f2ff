"""Temporal query parameters and temporal representations (CIM 009 §4.11, §4.5.7, §4.5.9, §4.5.19)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from twinspace.twin.aggregate import parse_aggregation
from twinspace.twin.errors import NgsiError
from twinspace.twin.temporal import (
    TimeFilter,
    parse_datetime,
    parse_last_n,
    parse_timeproperty,
    parse_timerel,
    render_temporal,
    render_temporal_entity,
)

SDM = "https://smartdatamodels.org/"
CORE = "https://uri.etsi.org/ngsi-ld/"
DEFAULT = CORE + "default-context/"
T_AT = "2018-08-01T12:00:00Z"
END_AT = "2018-08-01T13:00:00Z"
NOON = datetime(2018, 8, 1, 12, tzinfo=UTC)


class FakeTerms:
    """A minimal TermMap stand-in: strips the known vocabularies."""

    prefixes = (SDM + "dataModel.Transportation/", SDM, DEFAULT, CORE)

    def compact(self, iri: str) -> str:
        for prefix in self.prefixes:
            if iri.startswith(prefix):
                return iri[len(prefix) :]
        return iri

    def compact_type(self, iri: str) -> str:
        return self.compact(iri)


TERMS = FakeTerms()


# --- timerel -------------------------------------------------------------------------------


def test_no_temporal_query() -> None:
    assert parse_timerel(None, None, None) is None
    assert parse_timerel("", "", "") is None


def test_before_is_strictly_before_time_at() -> None:
    f = parse_timerel("before", T_AT, None)
    assert f == TimeFilter("before", NOON, None, "observedAt")
    assert (f.start, f.end) == (None, NOON)
    assert f.contains(NOON - timedelta(microseconds=1))
    assert not f.contains(NOON)


def test_after_is_at_or_after_time_at() -> None:
    f = parse_timerel("after", T_AT, None)
    assert f is not None
    assert (f.start, f.end) == (NOON, None)
    assert f.contains(NOON)
    assert not f.contains(NOON - timedelta(microseconds=1))
    assert f.contains(NOON + timedelta(days=3650))


def test_between_is_half_open() -> None:
    f = parse_timerel("between", T_AT, END_AT)
    assert f is not None
    assert (f.start, f.end) == (NOON, NOON + timedelta(hours=1))
    assert f.contains(NOON)
    assert f.contains(NOON + timedelta(minutes=59, seconds=59))
    assert not f.contains(NOON + timedelta(hours=1))
    assert not f.contains(NOON - timedelta(seconds=1))


def test_end_time_at_ignored_unless_between() -> None:
    f = parse_timerel("after", T_AT, "not even a date")
    assert f is not None and f.end is None and f.end_time_at is None


def test_timeproperty() -> None:
    f = parse_timerel("after", T_AT, None, timeproperty="modifiedAt")
    assert f is not None and f.time_property == "modifiedAt"
    assert parse_timeproperty(None) == "observedAt"
    assert parse_timeproperty("") == "observedAt"
    assert parse_timeproperty("createdAt") == "createdAt"
    with pytest.raises(NgsiError, match="Unsupported timeproperty 'deletedAt'") as caught:
        parse_timeproperty("deletedAt")
    assert caught.value.kind == "BadRequestData"


def test_offsets_are_normalised_to_utc() -> None:
    f = parse_timerel("after", "2018-08-01T14:00:00+02:00", None)
    assert f is not None and f.start == NOON and f.start.tzinfo == UTC
    naive = parse_datetime("2018-08-01T12:00:00")
    assert naive == NOON
    assert parse_datetime("2018-08-01T12:00:00.250Z") == NOON + timedelta(milliseconds=250)


@pytest.mark.parametrize(
    ("timerel", "time_at", "end_time_at", "message"),
    [
        ("during", T_AT, None, "Invalid timerel 'during'"),
        ("before", None, None, "timerel=before requires timeAt"),
        ("after", "", None, "timerel=after requires timeAt"),
        ("between", T_AT, None, "timerel=between requires endTimeAt"),
        ("between", T_AT, T_AT, "endTimeAt must be after timeAt"),
        ("between", END_AT, T_AT, "endTimeAt must be after timeAt"),
        ("before", "yesterday", None, "timeAt is not a valid DateTime: 'yesterday'"),
        ("before", "2018-08-01", None, "timeAt is not a valid DateTime"),
        ("before", "2018-13-01T00:00:00Z", None, "timeAt is not a valid DateTime"),
        ("between", T_AT, "2018-08-01T25:00:00Z", "endTimeAt is not a valid DateTime"),
        (None, T_AT, None, "timeAt/endTimeAt given without timerel"),
        (None, None, END_AT, "timeAt/endTimeAt given without timerel"),
    ],
)
def test_timerel_errors(
    timerel: str | None, time_at: str | None, end_time_at: str | None, message: str
) -> None:
    with pytest.raises(NgsiError, match=message) as caught:
        parse_timerel(timerel, time_at, end_time_at)
    assert caught.value.kind == "BadRequestData"
    assert caught.value.status == 400


# --- lastN ---------------------------------------------------------------------------------


def test_last_n() -> None:
    assert parse_last_n(None) is None
    assert parse_last_n("") is None
    assert parse_last_n("5") == 5
    assert parse_last_n(3) == 3


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "abc", 0, True])
def test_last_n_must_be_positive_integer(value: Any) -> None:
    with pytest.raises(NgsiError, match="lastN must be a positive integer") as caught:
        parse_last_n(value)
    assert caught.value.kind == "BadRequestData"


# --- rendering -----------------------------------------------------------------------------

SPEED = SDM + "dataModel.Transportation/averageVehicleSpeed"
REF = SDM + "refDevice"
LOC = CORE + "location"
ACCURACY = DEFAULT + "accuracy"


def speed(value: float, minute: int, **extra: Any) -> dict[str, Any]:
    stamp = f"2018-08-01T12:{minute:02d}:00Z"
    return {
        "type": "Property",
        "value": value,
        "observedAt": stamp,
        "unitCode": "KMH",
        "createdAt": stamp,
        "modifiedAt": stamp,
        "instanceId": f"urn:ngsi-ld:attribute:instance:s{minute}",
        **extra,
    }


def rows() -> dict[str, list[dict[str, Any]]]:
    return {
        SPEED: [
            speed(
                120, 1, subAttrs={ACCURACY: {"type": "Property", "value": 0.9, "createdAt": "c"}}
            ),
            speed(80, 3),
            speed(100, 5),
        ],
        REF: [
            {
                "type": "Relationship",
                "object": "urn:ngsi-ld:Device:d1",
                "observedAt": "2018-08-01T12:01:00Z",
                "instanceId": "urn:ngsi-ld:attribute:instance:r1",
            },
            {
                "type": "Relationship",
                "object": "urn:ngsi-ld:Device:d1",
                "observedAt": "2018-08-01T12:06:00Z",
                "instanceId": "urn:ngsi-ld:attribute:instance:r2",
            },
        ],
        LOC: [
            {
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": [-3.7, 40.4]},
                "observedAt": "2018-08-01T12:02:00Z",
                "instanceId": "urn:ngsi-ld:attribute:instance:l1",
            }
        ],
    }


def test_normalized_temporal_representation() -> None:
    out = render_temporal(
        "urn:ngsi-ld:TrafficFlowObserved:1",
        [SDM + "dataModel.Transportation/TrafficFlowObserved"],
        rows(),
        TERMS,
        form="normalized",
        sys_attrs=False,
        aggregation=None,
    )
    assert out["id"] == "urn:ngsi-ld:TrafficFlowObserved:1"
    assert out["type"] == "TrafficFlowObserved"
    assert out["averageVehicleSpeed"][0] == {
        "type": "Property",
        "value": 120,
        "observedAt": "2018-08-01T12:01:00Z",
        "unitCode": "KMH",
        "instanceId": "urn:ngsi-ld:attribute:instance:s1",
        "accuracy": {"type": "Property", "value": 0.9},
    }
    assert [i["value"] for i in out["averageVehicleSpeed"]] == [120, 80, 100]
    assert out["refDevice"][1] == {
        "type": "Relationship",
        "object": "urn:ngsi-ld:Device:d1",
        "observedAt": "2018-08-01T12:06:00Z",
        "instanceId": "urn:ngsi-ld:attribute:instance:r2",
    }
    # a single instance is still a list in the temporal representation
    assert isinstance(out["location"], list) and len(out["location"]) == 1


def test_normalized_with_sys_attrs_and_several_types() -> None:
    out = render_temporal(
        "urn:x:1",
        [SDM + "A", SDM + "B"],
        {SPEED: [speed(1, 0, datasetId="urn:ngsi-ld:Dataset:forecast")]},
        TERMS,
        form="normalized",
        sys_attrs=True,
        aggregation=None,
    )
    assert out["type"] == ["A", "B"]
    instance = out["averageVehicleSpeed"][0]
    assert instance["createdAt"] == instance["modifiedAt"] == "2018-08-01T12:00:00Z"
    assert instance["datasetId"] == "urn:ngsi-ld:Dataset:forecast"


def test_vocab_values_are_compacted() -> None:
    vocab = {"type": "VocabProperty", "vocab": SDM + "forward", "instanceId": "i"}
    out = render_temporal("urn:x:1", [SDM + "A"], {SDM + "dir": [vocab]}, TERMS, form="normalized")
    assert out["dir"] == [{"type": "VocabProperty", "vocab": "forward", "instanceId": "i"}]


def test_temporal_values_representation() -> None:
    out = render_temporal_entity(
        "urn:ngsi-ld:TrafficFlowObserved:1",
        [SDM + "dataModel.Transportation/TrafficFlowObserved"],
        rows(),
        TERMS,
        form="temporalValues",
        sys_attrs=False,
        aggregation=None,
    )
    assert out == {
        "id": "urn:ngsi-ld:TrafficFlowObserved:1",
        "type": "TrafficFlowObserved",
        "averageVehicleSpeed": {
            "type": "Property",
            "values": [
                [120, "2018-08-01T12:01:00Z"],
                [80, "2018-08-01T12:03:00Z"],
                [100, "2018-08-01T12:05:00Z"],
            ],
        },
        "refDevice": {
            "type": "Relationship",
            "objects": [
                ["urn:ngsi-ld:Device:d1", "2018-08-01T12:01:00Z"],
                ["urn:ngsi-ld:Device:d1", "2018-08-01T12:06:00Z"],
            ],
        },
        "location": {
            "type": "GeoProperty",
            "values": [[{"type": "Point", "coordinates": [-3.7, 40.4]}, "2018-08-01T12:02:00Z"]],
        },
    }


def test_temporal_values_other_attribute_types() -> None:
    data: dict[str, list[dict[str, Any]]] = {
        SDM + "name": [
            {"type": "LanguageProperty", "languageMap": {"en": "x"}, "observedAt": T_AT}
        ],
        SDM + "steps": [{"type": "ListProperty", "valueList": [1, 2], "observedAt": T_AT}],
        SDM + "route": [
            {"type": "ListRelationship", "objectList": ["urn:a:1"], "observedAt": T_AT}
        ],
        SDM + "cat": [{"type": "VocabProperty", "vocab": SDM + "x", "observedAt": T_AT}],
        SDM + "blob": [{"type": "JsonProperty", "json": {"a": 1}, "observedAt": T_AT}],
    }
    out = render_temporal("urn:x:1", [SDM + "A"], data, TERMS, form="temporalValues")
    assert out["name"] == {"type": "LanguageProperty", "languageMaps": [[{"en": "x"}, T_AT]]}
    assert out["steps"] == {"type": "ListProperty", "valueLists": [[[1, 2], T_AT]]}
    assert out["route"] == {"type": "ListRelationship", "objectLists": [[["urn:a:1"], T_AT]]}
    assert out["cat"] == {"type": "VocabProperty", "vocabs": [["x", T_AT]]}
    assert out["blob"] == {"type": "JsonProperty", "jsons": [[{"a": 1}, T_AT]]}


def test_temporal_values_time_property_and_fallback() -> None:
    instances = [
        {"type": "Property", "value": 1, "modifiedAt": "2018-08-01T12:10:00Z", "observedAt": T_AT},
        {"type": "Property", "value": 2, "modifiedAt": "2018-08-01T12:20:00Z"},
    ]
    out = render_temporal(
        "urn:x:1", [SDM + "A"], {SDM + "v": instances}, TERMS, form="temporalValues"
    )
    assert out["v"]["values"] == [[1, T_AT], [2, "2018-08-01T12:20:00Z"]]
    by_modified = render_temporal(
        "urn:x:1",
        [SDM + "A"],
        {SDM + "v": instances},
        TERMS,
        form="temporalValues",
        time_filter=parse_timerel("after", T_AT, None, timeproperty="modifiedAt"),
    )
    assert by_modified["v"]["values"] == [[1, "2018-08-01T12:10:00Z"], [2, "2018-08-01T12:20:00Z"]]


def test_several_datasets_become_a_list() -> None:
    data = {
        SPEED: [
            speed(10, 1, datasetId="urn:ngsi-ld:Dataset:b"),
            speed(20, 2),
            speed(30, 3, datasetId="urn:ngsi-ld:Dataset:a"),
            speed(40, 4),
        ]
    }
    out = render_temporal("urn:x:1", [SDM + "A"], data, TERMS, form="temporalValues")
    assert out["averageVehicleSpeed"] == [
        {
            "type": "Property",
            "values": [[20, "2018-08-01T12:02:00Z"], [40, "2018-08-01T12:04:00Z"]],
        },
        {
            "type": "Property",
            "datasetId": "urn:ngsi-ld:Dataset:a",
            "values": [[30, "2018-08-01T12:03:00Z"]],
        },
        {
            "type": "Property",
            "datasetId": "urn:ngsi-ld:Dataset:b",
            "values": [[10, "2018-08-01T12:01:00Z"]],
        },
    ]


def test_aggregated_representation_spec_example() -> None:
    # CIM 009 annex C.5.14: max and avg by periods of four minutes between 12:00 and 13:00
    out = render_temporal(
        "urn:ngsi-ld:TrafficFlowObserved:1",
        [SDM + "dataModel.Transportation/TrafficFlowObserved"],
        rows(),
        TERMS,
        form="aggregated",
        sys_attrs=False,
        aggregation=parse_aggregation("max,avg", "PT4M"),
        time_filter=parse_timerel("between", T_AT, END_AT),
    )
    assert out["averageVehicleSpeed"] == {
        "type": "Property",
        "max": [
            [120, "2018-08-01T12:00:00Z", "2018-08-01T12:04:00Z"],
            [100, "2018-08-01T12:04:00Z", "2018-08-01T12:08:00Z"],
        ],
        "avg": [
            [100.0, "2018-08-01T12:00:00Z", "2018-08-01T12:04:00Z"],
            [100.0, "2018-08-01T12:04:00Z", "2018-08-01T12:08:00Z"],
        ],
    }
    # relationships only support the counts (Table 4.5.19.1-3); geo values have no max/avg
    assert out["refDevice"] == {"type": "Relationship", "max": [], "avg": []}
    assert out["location"] == {"type": "GeoProperty", "max": [], "avg": []}


def test_aggregated_counts_of_relationships() -> None:
    out = render_temporal(
        "urn:x:1",
        [SDM + "A"],
        rows(),
        TERMS,
        form="aggregated",
        aggregation=parse_aggregation("totalCount,distinctCount,min", None),
    )
    assert out["refDevice"] == {
        "type": "Relationship",
        "totalCount": [[2, "2018-08-01T12:01:00Z", "2018-08-01T12:06:00Z"]],
        "distinctCount": [[1, "2018-08-01T12:01:00Z", "2018-08-01T12:06:00Z"]],
        "min": [],
    }
    assert out["averageVehicleSpeed"]["min"] == [
        [80, "2018-08-01T12:01:00Z", "2018-08-01T12:05:00Z"]
    ]


def test_aggregated_requires_aggregation() -> None:
    with pytest.raises(NgsiError, match="aggrMethods is required"):
        render_temporal("urn:x:1", [SDM + "A"], rows(), TERMS, form="aggregated")


def test_unknown_form() -> None:
    with pytest.raises(NgsiError, match="Unknown temporal representation"):
        render_temporal("urn:x:1", [SDM + "A"], rows(), TERMS, form="concise")  # type: ignore[arg-type]


def test_attributes_without_instances_are_left_out() -> None:
    out = render_temporal("urn:x:1", [SDM + "A"], {SPEED: []}, TERMS, form="normalized")
    assert out == {"id": "urn:x:1", "type": "A"}


def test_renders_with_the_real_term_map() -> None:
    from twinspace.twin.context import TermMap, bundled_context

    document = bundled_context("https://smartdatamodels.org/context.jsonld")
    assert document is not None
    terms = TermMap.build([document["@context"]])
    no2 = terms.expand("NO2")
    data = {no2: [{"type": "Property", "value": 21.5, "observedAt": T_AT, "instanceId": "i1"}]}
    out = render_temporal(
        "urn:ngsi-ld:AirQualityObserved:1",
        [terms.expand_type("AirQualityObserved")],
        data,
        terms,
        form="temporalValues",
    )
    assert out == {
        "id": "urn:ngsi-ld:AirQualityObserved:1",
        "type": "AirQualityObserved",
        "NO2": {"type": "Property", "values": [[21.5, T_AT]]},
    }
