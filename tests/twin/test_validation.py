"""Smart Data Model validation (keyValues form, short names)."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from twinspace.twin.validation import MODEL_TYPES, model_for_type, model_schema, validate_entity

POINT = {"type": "Point", "coordinates": [-3.7038, 40.4168]}

VALID: dict[str, dict[str, Any]] = {
    "AirQualityObserved": {
        "id": "urn:ngsi-ld:AirQualityObserved:Madrid-AmbientObserved-28079004-2016-03-15T11:00:00",
        "type": "AirQualityObserved",
        "address": {
            "addressCountry": "ES",
            "addressLocality": "Madrid",
            "streetAddress": "Plaza de España",
        },
        "dateObserved": "2016-03-15T11:00:00Z",
        "location": POINT,
        "source": "http://datos.madrid.es",
        "airQualityIndex": 65,
        "airQualityLevel": "moderate",
        "reliability": 0.7,
        "co": 500,
        "no2": 22,
        "NO2": 22.5,
        "PM10": 20.1,
        "PM2_5": 12,
        "pm25": 12,
        "O3": 80,
        "CO": 0.4,
        "so2": 2,
        "coLevel": "moderate",
        "precipitation": 0,
        "relativeHumidity": 0.54,
        "temperature": 12.2,
        "windDirection": -174,
        "windSpeed": 0.64,
        "typeofLocation": "outdoor",
        "refDevice": "urn:ngsi-ld:Device:airquality-1",
        "refPointOfInterest": "urn:ngsi-ld:PointOfInterest:28079004",
        "seeAlso": ["https://example.org/station/28079004"],
    },
    "NoiseLevelObserved": {
        "id": "urn:ngsi-ld:NoiseLevelObserved:Vitoria-1",
        "type": "NoiseLevelObserved",
        "location": POINT,
        "dateObserved": "2016-12-28T17:00:00Z/2016-12-28T18:00:00Z",
        "dateObservedFrom": "2016-12-28T17:00:00.00Z",
        "dateObservedTo": {"@type": "DateTime", "@value": "2016-12-28T18:00:00.00Z"},
        "LAeq": 67.8,
        "LAmax": 94.5,
        "LAS": 91.6,
        "LAeq_d": 65.4,
        "LA90": 55.2,
        "sonometerClass": "1",
        "refDevice": "urn:ngsi-ld:Device:noise-1",
    },
    "TrafficFlowObserved": {
        "id": "urn:ngsi-ld:TrafficFlowObserved:Valladolid-osm-60821110",
        "type": "TrafficFlowObserved",
        "dateObserved": "2016-12-07T11:10:00Z/2016-12-07T11:15:00Z",
        "dateObservedFrom": "2016-12-07T11:10:00Z",
        "dateObservedTo": "2016-12-07T11:15:00Z",
        "location": {
            "type": "LineString",
            "coordinates": [[-4.73735, 41.6404], [-4.73223, 41.6422]],
        },
        "laneId": 1,
        "laneDirection": "forward",
        "intensity": 197,
        "occupancy": 0.76,
        "averageVehicleSpeed": 52.6,
        "averageVehicleLength": 9.87,
        "averageGapDistance": 3.4,
        "averageHeadwayTime": 0.5,
        "congested": False,
        "reversedLane": False,
        "vehicleType": "car",
        "refRoadSegment": "urn:ngsi-ld:RoadSegment:osm-60821110",
        "refDevice": "urn:ngsi-ld:Device:loop-1",
    },
    "WeatherObserved": {
        "id": "urn:ngsi-ld:WeatherObserved:Spain-WeatherObserved-Valladolid-2016-11-30T07:00:00.00Z",
        "type": "WeatherObserved",
        "dateObserved": "2016-11-30T07:00:00.00Z",
        "location": POINT,
        "temperature": 3.3,
        "feelsLikeTemperature": 1.1,
        "relativeHumidity": 1,
        "dewPoint": 3.3,
        "precipitation": 0,
        "atmosphericPressure": 938.9,
        "pressureTendency": 0.5,
        "solarRadiation": 0,
        "windDirection": 359,
        "windSpeed": 2,
        "gustSpeed": 4.5,
        "visibility": "moderate",
        "snowHeight": 0,
        "uVIndexMax": 1.0,
        "refDevice": "urn:ngsi-ld:Device:weather-1",
    },
    "Device": {
        "id": "urn:ngsi-ld:Device:device-9845A",
        "type": "Device",
        "category": ["sensor"],
        "controlledProperty": ["fillingLevel", "temperature", "trafficFlow"],
        "controlledAsset": ["urn:ngsi-ld:WasteContainer:wastecontainer-Osuna-100"],
        "ipAddress": ["192.14.56.78", "2001:db8::1"],
        "macAddress": ["00:1B:44:11:3A:B7"],
        "supportedProtocol": ["mqtt", "http"],
        "mcc": "214",
        "mnc": "07",
        "serialNumber": "9845A",
        "batteryLevel": 0.75,
        "rssi": -70,
        "deviceState": "ok",
        "dateFirstUsed": "2014-09-11T11:00:00Z",
        "dateInstalled": {"@type": "DateTime", "@value": "2014-09-10T11:00:00+02:00"},
        "firmwareVersion": "1.2.3",
        "direction": "Inlet",
        "configuration": {"sampling": "PT1M"},
        "owner": ["urn:ngsi-ld:Organization:city"],
        "location": POINT,
        "refDeviceModel": "urn:ngsi-ld:DeviceModel:loop-v2",
    },
}

MINIMAL: dict[str, dict[str, Any]] = {
    "AirQualityObserved": {
        "id": "urn:ngsi-ld:AirQualityObserved:1",
        "type": "AirQualityObserved",
        "dateObserved": "2026-11-24T10:00:00Z",
        "location": POINT,
    },
    "NoiseLevelObserved": {
        "id": "urn:ngsi-ld:NoiseLevelObserved:1",
        "type": "NoiseLevelObserved",
        "dateObservedFrom": "2026-11-24T10:00:00Z",
        "dateObservedTo": "2026-11-24T10:05:00Z",
        "location": POINT,
    },
    "TrafficFlowObserved": {
        "id": "urn:ngsi-ld:TrafficFlowObserved:1",
        "type": "TrafficFlowObserved",
        "dateObserved": "2026-11-24T10:00:00Z",
        "refRoadSegment": "urn:ngsi-ld:RoadSegment:1",
    },
    "WeatherObserved": {
        "id": "urn:ngsi-ld:WeatherObserved:1",
        "type": "WeatherObserved",
        "dateObserved": "2026-11-24T10:00:00Z",
        "location": POINT,
    },
    "Device": {
        "id": "urn:ngsi-ld:Device:1",
        "type": "Device",
        "controlledProperty": ["airPollution"],
    },
}


def test_model_for_type() -> None:
    sdm = "https://smartdatamodels.org/"
    assert model_for_type(sdm + "dataModel.Environment/AirQualityObserved") == "AirQualityObserved"
    assert model_for_type(sdm + "dataModel.Environment/NoiseLevelObserved") == "NoiseLevelObserved"
    assert (
        model_for_type(sdm + "dataModel.Transportation/TrafficFlowObserved")
        == "TrafficFlowObserved"
    )
    assert model_for_type(sdm + "dataModel.Weather/WeatherObserved") == "WeatherObserved"
    assert model_for_type(sdm + "dataModel.Device/Device") == "Device"
    for model in MODEL_TYPES:
        assert model_for_type(model) == model
    assert model_for_type(sdm + "dataModel.Parking/OffStreetParking") is None
    assert model_for_type("https://uri.etsi.org/ngsi-ld/default-context/Device") is None


def test_schema_files_are_exactly_the_five_models() -> None:
    folder = resources.files("twinspace.twin").joinpath("schemas")
    names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    assert names == sorted(f"{model}.json" for model in MODEL_TYPES)


@pytest.mark.parametrize("model", sorted(MODEL_TYPES))
def test_schemas_are_valid_self_contained_and_documented(model: str) -> None:
    schema = model_schema(model)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "Provenance" in schema["$comment"] and "schema.json" in schema["$comment"]
    assert schema["description"]
    text = json.dumps(schema)
    refs = [part.split('"')[0] for part in text.split('"$ref": "')[1:]]
    assert refs and all(ref.startswith("#/$defs/") for ref in refs)


@pytest.mark.parametrize("model", sorted(MODEL_TYPES))
def test_valid_examples(model: str) -> None:
    assert validate_entity(VALID[model], model) == []
    assert validate_entity(MINIMAL[model], model) == []


def test_unknown_model() -> None:
    with pytest.raises(ValueError, match="Unknown Smart Data Model 'Parking'"):
        validate_entity({}, "Parking")


def test_additional_attributes_are_allowed() -> None:
    entity = dict(MINIMAL["AirQualityObserved"], customIndex={"a": 1}, scope="/Madrid")
    assert validate_entity(entity, "AirQualityObserved") == []


def violations(model: str, **changes: Any) -> list[str]:
    entity = copy.deepcopy(VALID[model])
    for key, value in changes.items():
        if value is DELETE:
            entity.pop(key)
        else:
            entity[key] = value
    return validate_entity(entity, model)


DELETE = object()


@pytest.mark.parametrize(
    ("model", "changes", "expected"),
    [
        # required lists
        (
            "AirQualityObserved",
            {"dateObserved": DELETE},
            "$: 'dateObserved' is a required property",
        ),
        ("AirQualityObserved", {"location": DELETE}, "$: 'location' is a required property"),
        ("AirQualityObserved", {"id": DELETE}, "$: 'id' is a required property"),
        ("WeatherObserved", {"dateObserved": DELETE}, "$: 'dateObserved' is a required property"),
        (
            "NoiseLevelObserved",
            {"dateObservedFrom": DELETE},
            "$: 'dateObservedFrom' is a required property",
        ),
        (
            "NoiseLevelObserved",
            {"dateObservedTo": DELETE},
            "$: 'dateObservedTo' is a required property",
        ),
        (
            "Device",
            {"controlledProperty": DELETE},
            "$: 'controlledProperty' is a required property",
        ),
        (
            "TrafficFlowObserved",
            {"dateObserved": DELETE},
            "$: 'dateObserved' is a required property",
        ),
        # type and id
        (
            "AirQualityObserved",
            {"type": "WeatherObserved"},
            "$.type: 'AirQualityObserved' was expected",
        ),
        ("Device", {"id": "not an id"}, "$.id: 'not an id' is not a 'uri'"),
        # ranges and types
        ("AirQualityObserved", {"NO2": -1}, "$.NO2: -1 is less than the minimum of 0"),
        ("AirQualityObserved", {"no2": "high"}, "$.no2: 'high' is not of type 'number'"),
        ("AirQualityObserved", {"PM2_5": -0.1}, "$.PM2_5: -0.1 is less than the minimum of 0"),
        (
            "AirQualityObserved",
            {"relativeHumidity": 54},
            "$.relativeHumidity: 54 is greater than the maximum of 1",
        ),
        (
            "AirQualityObserved",
            {"airQualityIndex": 1.5},
            "$.airQualityIndex: 1.5 is not of type 'integer'",
        ),
        (
            "AirQualityObserved",
            {"typeofLocation": "inside"},
            "$.typeofLocation: 'inside' is not one of ['indoor', 'outdoor']",
        ),
        (
            "AirQualityObserved",
            {"windDirection": 270},
            "$.windDirection: 270 is greater than the maximum of 180",
        ),
        ("TrafficFlowObserved", {"intensity": -3}, "$.intensity: -3 is less than the minimum of 0"),
        ("TrafficFlowObserved", {"intensity": 12.5}, "$.intensity: 12.5 is not of type 'integer'"),
        (
            "TrafficFlowObserved",
            {"occupancy": 1.2},
            "$.occupancy: 1.2 is greater than the maximum of 1",
        ),
        (
            "TrafficFlowObserved",
            {"laneDirection": "left"},
            "$.laneDirection: 'left' is not one of ['forward', 'backward']",
        ),
        ("TrafficFlowObserved", {"congested": "no"}, "$.congested: 'no' is not of type 'boolean'"),
        ("TrafficFlowObserved", {"laneId": -1}, "$.laneId: -1 is less than the minimum of 0"),
        (
            "WeatherObserved",
            {"relativeHumidity": -0.2},
            "$.relativeHumidity: -0.2 is less than the minimum of 0",
        ),
        (
            "WeatherObserved",
            {"windDirection": 361},
            "$.windDirection: 361 is greater than the maximum of 360",
        ),
        (
            "WeatherObserved",
            {"pressureTendency": "up"},
            "$.pressureTendency: 'up' is not one of ['raising', 'falling', 'steady']",
        ),
        ("WeatherObserved", {"visibility": -1}, "$.visibility: -1 is less than the minimum of 0"),
        ("NoiseLevelObserved", {"LAeq": "loud"}, "$.LAeq: 'loud' is not of type 'number'"),
        (
            "NoiseLevelObserved",
            {"sonometerClass": "3"},
            "$.sonometerClass: '3' is not one of ['0', '1', '2']",
        ),
        (
            "Device",
            {"controlledProperty": ["temperature", "magic"]},
            "$.controlledProperty[1]: 'magic' is not one of",
        ),
        ("Device", {"controlledProperty": []}, "$.controlledProperty: [] should be non-empty"),
        ("Device", {"category": ["robot"]}, "$.category[0]: 'robot' is not one of"),
        ("Device", {"batteryLevel": 1.5}, "$.batteryLevel: 1.5 is greater than the maximum of 1"),
        ("Device", {"deviceState": 1}, "$.deviceState: 1 is not of type 'string'"),
        ("Device", {"ipAddress": ["300.1.1.1"]}, "$.ipAddress[0]: '300.1.1.1' is not a 'ipv4'"),
        ("Device", {"macAddress": ["00:1B:44"]}, "$.macAddress[0]: '00:1B:44' does not match"),
        (
            "Device",
            {"direction": "Up"},
            "$.direction: 'Up' is not one of ['Inlet', 'Outlet', 'Entry', 'Exit']",
        ),
        # dates
        (
            "AirQualityObserved",
            {"dateObserved": "yesterday"},
            "$.dateObserved: 'yesterday' is not a 'date-time'",
        ),
        (
            "AirQualityObserved",
            {"dateObserved": "2016-03-15"},
            "$.dateObserved: '2016-03-15' is not a 'date-time'",
        ),
        (
            "AirQualityObserved",
            {"dateObserved": "2016-03-15T11:00:00"},
            "$.dateObserved: '2016-03-15T11:00:00' is not a 'date-time'",
        ),
        (
            "AirQualityObserved",
            {"dateObserved": "2016-02-30T11:00:00Z"},
            "$.dateObserved: '2016-02-30T11:00:00Z' is not a 'date-time'",
        ),
        (
            "AirQualityObserved",
            {"dateObserved": 1458039600},
            "$.dateObserved: 1458039600 is not of type 'string', 'object'",
        ),
        (
            "Device",
            {"dateInstalled": {"@type": "DateTime", "@value": "soon"}},
            "$.dateInstalled.@value: 'soon' is not a 'date-time'",
        ),
        (
            "Device",
            {"dateInstalled": {"@type": "Date", "@value": "2014-09-10T11:00:00Z"}},
            "$.dateInstalled.@type: 'DateTime' was expected",
        ),
        (
            "TrafficFlowObserved",
            {"dateObserved": "2016-12-07T11:10:00Z/later"},
            "$.dateObserved: '2016-12-07T11:10:00Z/later' is not a 'date-time-or-interval'",
        ),
        # relationships
        ("AirQualityObserved", {"refDevice": "device 1"}, "$.refDevice: 'device 1' is not a 'uri'"),
        (
            "AirQualityObserved",
            {"refDevice": ["urn:ngsi-ld:Device:1"]},
            "$.refDevice: ['urn:ngsi-ld:Device:1'] is not of type 'string'",
        ),
        (
            "AirQualityObserved",
            {"seeAlso": ["not a uri"]},
            "$.seeAlso[0]: 'not a uri' is not a 'uri'",
        ),
        (
            "Device",
            {"controlledAsset": ["urn:ngsi-ld:X:1", "x"]},
            "$.controlledAsset[1]: 'x' is not a 'uri'",
        ),
        # GeoJSON
        (
            "AirQualityObserved",
            {"location": {"type": "Point", "coordinates": [200, 40]}},
            "$.location.coordinates[0]: 200 is greater than the maximum of 180",
        ),
        (
            "AirQualityObserved",
            {"location": {"type": "Point", "coordinates": [-3.7, -91]}},
            "$.location.coordinates[1]: -91 is less than the minimum of -90",
        ),
        (
            "AirQualityObserved",
            {"location": {"type": "Point", "coordinates": [-3.7]}},
            "$.location.coordinates: [-3.7] is too short",
        ),
        (
            "AirQualityObserved",
            {"location": {"type": "Point"}},
            "$.location: 'coordinates' is a required property",
        ),
        (
            "AirQualityObserved",
            {"location": {"type": "Circle", "coordinates": [1, 2]}},
            "$.location.type: 'Circle' is not one of",
        ),
        (
            "AirQualityObserved",
            {"location": {"type": "LineString", "coordinates": [[1, 2]]}},
            "$.location.coordinates: [[1, 2]] is too short",
        ),
        (
            "AirQualityObserved",
            {"location": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}},
            "$.location.coordinates[0]: [[0, 0], [1, 0], [0, 0]] is too short",
        ),
        (
            "AirQualityObserved",
            {"location": {"type": "MultiPoint", "coordinates": [[0, 0], ["a", 0]]}},
            "$.location.coordinates[1][0]: 'a' is not of type 'number'",
        ),
        (
            "AirQualityObserved",
            {"location": "Madrid"},
            "$.location: 'Madrid' is not of type 'object'",
        ),
    ],
)
def test_typical_violations(model: str, changes: dict[str, Any], expected: str) -> None:
    found = violations(model, **changes)
    assert len(found) == 1, found
    assert found[0].startswith(expected), found


def test_traffic_flow_needs_a_place() -> None:
    entity = dict(MINIMAL["TrafficFlowObserved"])
    del entity["refRoadSegment"]
    found = validate_entity(entity, "TrafficFlowObserved")
    assert found == ["$: one of 'location', 'refRoadSegment', 'address' is required"]
    for place in ({"location": POINT}, {"address": {"addressLocality": "Valladolid"}}):
        assert validate_entity(entity | place, "TrafficFlowObserved") == []


def test_several_violations_are_all_reported_sorted() -> None:
    entity = dict(MINIMAL["AirQualityObserved"], NO2=-1, temperature="warm")
    del entity["location"]
    assert validate_entity(entity, "AirQualityObserved") == [
        "$.NO2: -1 is less than the minimum of 0",
        "$.temperature: 'warm' is not of type 'number'",
        "$: 'location' is a required property",
    ]


def test_validating_does_not_mutate_the_entity() -> None:
    entity = copy.deepcopy(VALID["Device"])
    validate_entity(entity, "Device")
    assert entity == VALID["Device"]
