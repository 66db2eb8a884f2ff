"""Simulated sensors: deterministic, plausible, Smart-Data-Models-shaped keyValues readings."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt
import pytest
from tests.twin.conftest import MqttBroker

from twinspace.twin.ingest import parse_message
from twinspace.twin.simulator import (
    SENSOR_TYPES,
    Sensor,
    city_sensors,
    diurnal_traffic,
    publish,
    readings,
)
from twinspace.twin.validation import validate_entity

DAY = datetime(2026, 11, 24, tzinfo=UTC)  # a Tuesday
SENSORS = city_sensors(per_type=2)


def by_type(at: datetime, sensors: list[Sensor] = SENSORS) -> dict[str, dict[str, Any]]:
    return {payload["type"]: payload for _, payload in readings(sensors[::2], at)}


def over_a_week() -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for step in range(0, 7 * 24 * 4, 5):  # every 75 minutes for a week
        out.extend(readings(SENSORS, DAY + timedelta(minutes=15 * step)))
    return out


def test_deterministic_for_the_same_seed_and_time() -> None:
    at = DAY + timedelta(hours=9, minutes=7)
    assert readings(SENSORS, at) == readings(SENSORS, at)
    assert readings(SENSORS, at, seed=1) == readings(SENSORS, at, seed=1)
    assert readings(SENSORS, at, seed=1) != readings(SENSORS, at, seed=2)
    assert readings(SENSORS, at) != readings(SENSORS, at + timedelta(minutes=1))
    assert city_sensors(per_type=2) == SENSORS
    assert city_sensors(per_type=2, seed=9) != SENSORS


def test_naive_times_are_utc_and_microseconds_dropped() -> None:
    aware = DAY + timedelta(hours=3, microseconds=123)
    assert readings(SENSORS, aware.replace(tzinfo=None)) == readings(
        SENSORS, DAY + timedelta(hours=3)
    )


def test_city_sensors_layout() -> None:
    assert len(SENSORS) == 2 * len(SENSOR_TYPES)
    assert len({s.id for s in SENSORS}) == len(SENSORS)
    assert {s.type for s in SENSORS} == set(SENSOR_TYPES)
    for sensor in SENSORS:
        assert sensor.id.startswith(f"urn:ngsi-ld:{sensor.type}:")
        assert abs(sensor.lon + 3.7038) < 0.03 and abs(sensor.lat - 40.4168) < 0.03
    assert len({s.device for s in SENSORS}) == len(SENSORS)


def test_sensor_validation() -> None:
    with pytest.raises(ValueError, match="unknown sensor type"):
        Sensor("urn:x:1", "Teapot", 0.0, 0.0)
    with pytest.raises(ValueError, match="URN"):
        Sensor("x1", "WeatherObserved", 0.0, 0.0)


def test_topics_name_tenant_type_and_id() -> None:
    sensor = Sensor("urn:ngsi-ld:WeatherObserved:w1", "WeatherObserved", 1.0, 2.0, tenant="acme")
    ((topic, _),) = readings([sensor], DAY)
    assert topic == "acme/WeatherObserved/urn:ngsi-ld:WeatherObserved:w1"
    ((topic, _),) = readings([Sensor(sensor.id, sensor.type, 1.0, 2.0)], DAY)
    assert topic.startswith("default/")


def test_common_members() -> None:
    at = DAY + timedelta(hours=10, minutes=30, seconds=5)
    for topic, payload in readings(SENSORS, at):
        sensor = next(s for s in SENSORS if topic.endswith(s.id))
        assert payload["type"] == sensor.type
        assert payload["dateObserved"] == payload["observedAt"] == "2026-11-24T10:30:05Z"
        assert payload["location"] == {"type": "Point", "coordinates": [sensor.lon, sensor.lat]}
        assert "id" not in payload
        json.dumps(payload, allow_nan=False)


def test_traffic_shape_and_ranges() -> None:
    for _, payload in over_a_week():
        if payload["type"] != "TrafficFlowObserved":
            continue
        assert isinstance(payload["intensity"], int) and 0 <= payload["intensity"] <= 600
        assert isinstance(payload["laneId"], int) and payload["laneId"] >= 1
        assert 5.0 <= payload["averageVehicleSpeed"] <= 70.0
        assert 0.0 <= payload["occupancy"] <= 1.0
        assert payload["refDevice"].startswith("urn:ngsi-ld:Device:")
        assert payload["dateObservedFrom"] < payload["dateObservedTo"] == payload["dateObserved"]


def test_air_noise_weather_ranges() -> None:
    for _, payload in over_a_week():
        if payload["type"] == "AirQualityObserved":
            for name, high in (
                ("NO2", 400),
                ("PM10", 300),
                ("PM2_5", 300),
                ("O3", 300),
                ("CO", 10000),
            ):
                assert isinstance(payload[name], float) and 0 < payload[name] <= high, name
            assert payload["PM2_5"] <= payload["PM10"]
        elif payload["type"] == "NoiseLevelObserved":
            assert 35 <= payload["LA90"] < payload["LAeq"] < payload["LAmax"] <= 100
        elif payload["type"] == "WeatherObserved":
            assert -20 < payload["temperature"] < 45
            assert 0.0 <= payload["relativeHumidity"] <= 1.0
            assert 0.0 <= payload["windSpeed"] <= 30.0


def test_diurnal_variation() -> None:
    # Madrid is ≈15 minutes behind UTC in solar time: 08:15 UTC ≈ 08:00 local
    night, rush, evening = (DAY + timedelta(hours=h, minutes=15) for h in (3, 8, 18))
    quiet, peak, late = by_type(night), by_type(rush), by_type(evening)
    for hour in (peak, late):
        assert (
            hour["TrafficFlowObserved"]["intensity"] > 3 * quiet["TrafficFlowObserved"]["intensity"]
        )
        assert hour["TrafficFlowObserved"]["occupancy"] > quiet["TrafficFlowObserved"]["occupancy"]
        assert hour["AirQualityObserved"]["NO2"] > quiet["AirQualityObserved"]["NO2"]
        assert hour["NoiseLevelObserved"]["LAeq"] > quiet["NoiseLevelObserved"]["LAeq"] + 3
    assert (
        peak["TrafficFlowObserved"]["averageVehicleSpeed"]
        < quiet["TrafficFlowObserved"]["averageVehicleSpeed"]
    )
    afternoon = by_type(DAY + timedelta(hours=15))
    assert afternoon["WeatherObserved"]["temperature"] > quiet["WeatherObserved"]["temperature"]


def test_diurnal_traffic_profile() -> None:
    weekday = [diurnal_traffic(h, 1) for h in range(24)]
    assert max(weekday) == pytest.approx(diurnal_traffic(8, 1))
    assert weekday[18] > weekday[13] > weekday[3]
    assert all(0.05 < level < 1.2 for level in weekday)
    assert diurnal_traffic(8, 6) < diurnal_traffic(8, 1)  # Sunday morning is quiet


def test_readings_parse_into_smart_data_model_entities() -> None:
    prefix = "twinspace/ngsi-ld"
    for topic, payload in readings(SENSORS, DAY + timedelta(hours=12)):
        batch = parse_message(f"{prefix}/{topic}", json.dumps(payload).encode(), prefix)
        (entity,) = batch.entities
        assert batch.tenant == ""
        assert entity["location"]["type"] == "GeoProperty"
        if "refDevice" in entity:
            assert entity["refDevice"]["type"] == "Relationship"
        attrs = [value for key, value in entity.items() if key not in ("id", "type")]
        assert all(attr["observedAt"] == payload["observedAt"] for attr in attrs)


def test_readings_conform_to_the_smart_data_model_schemas() -> None:
    for topic, payload in over_a_week()[:: len(SENSORS) + 1]:
        key_values = {"id": topic.split("/", 2)[2], **payload}
        assert validate_entity(key_values, payload["type"]) == [], payload["type"]


@pytest.mark.mqtt
async def test_publish_sends_every_reading_under_the_prefix(mqtt_broker: MqttBroker) -> None:
    prefix = f"test/{uuid.uuid4().hex[:10]}"
    messages = readings(SENSORS, DAY)
    received: list[tuple[str, dict[str, Any]]] = []
    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as client:
        await client.subscribe(f"{prefix}/#", qos=1)
        sent = await publish(mqtt_broker.host, mqtt_broker.port, prefix, messages)

        async def collect() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                received.append((message.topic.value, json.loads(message.payload)))
                if len(received) == len(messages):
                    return

        await asyncio.wait_for(collect(), 15)
    assert sent == len(messages)
    assert received == [(f"{prefix}/{topic}", payload) for topic, payload in messages]
