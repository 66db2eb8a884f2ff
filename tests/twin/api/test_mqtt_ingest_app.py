"""The participant app's MQTT ingest through the real Mosquitto: simulated sensors publish, the
twin holds their readings (validated against the Smart Data Models), subscribers are notified,
refusals are reported on the errors topic and the status shows it all."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import aiomqtt
from tests.twin.api.conftest import BASE, SDM_CONTEXT, Broker, BrokerFactory, link
from tests.twin.conftest import MqttBroker

from twinspace.twin.simulator import city_sensors, publish, readings


async def _until(check: Any, timeout: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await check()
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.05)


async def _ingesting(make_broker: BrokerFactory, mqtt_broker: MqttBroker) -> tuple[Broker, str]:
    prefix = f"test/{uuid.uuid4().hex[:10]}"
    twin = await make_broker(
        mqtt_url=f"mqtt://{mqtt_broker.host}:{mqtt_broker.port}", mqtt_prefix=prefix
    )
    ingest = twin.twin.ingest
    assert ingest is not None
    await asyncio.wait_for(ingest.started.wait(), 10)
    return twin, prefix


async def test_sensor_readings_reach_the_twin(
    make_broker: BrokerFactory, mqtt_broker: MqttBroker
) -> None:
    twin, prefix = await _ingesting(make_broker, mqtt_broker)
    sensors = city_sensors(per_type=2, city="Testville")
    at = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    sent = await publish(mqtt_broker.host, mqtt_broker.port, prefix, readings(sensors, at))
    assert sent == len(sensors)

    async def all_there() -> list[Any] | None:
        response = await twin.client.get(
            f"{BASE}/entities",
            params={"type": "AirQualityObserved,TrafficFlowObserved,NoiseLevelObserved,"
                    "WeatherObserved", "limit": "100", "options": "keyValues"},
            headers=link(SDM_CONTEXT),
        )  # fmt: skip
        found: list[Any] = response.json() if response.status_code == 200 else []
        return found if len(found) == len(sensors) else None

    entities = await _until(all_there)
    air = next(e for e in entities if e["type"] == "AirQualityObserved")
    assert air["dateObserved"] == "2026-11-24T08:00:00Z"
    assert air["location"]["type"] == "Point"
    status = (await twin.client.get("/management/v3/twin")).json()["mqtt"]
    assert status["connected"] is True
    assert status["received"] >= len(sensors) and status["applied"] >= len(sensors)


async def test_a_reading_that_breaks_its_model_is_reported_not_lost_silently(
    make_broker: BrokerFactory, mqtt_broker: MqttBroker
) -> None:
    twin, prefix = await _ingesting(make_broker, mqtt_broker)
    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as client:
        await client.subscribe(f"{prefix}/default/errors", qos=1)
        bad = {"NO2": -5, "dateObserved": "2026-11-24T08:00:00Z",
               "location": {"type": "Point", "coordinates": [9.99, 53.55]}}  # fmt: skip
        await client.publish(f"{prefix}/default/AirQualityObserved/bad-1", json.dumps(bad), qos=1)
        async with asyncio.timeout(10):
            async for message in client.messages:
                report = json.loads(bytes(message.payload))  # type: ignore[arg-type]
                break
    assert report["topic"].endswith("AirQualityObserved/bad-1")
    assert "NO2" in report["reason"] and "minimum" in report["reason"]

    async def rejected() -> bool:
        status = (await twin.client.get("/management/v3/twin")).json()["mqtt"]
        return bool(status["rejected"] >= 1 and status["lastError"])

    await _until(rejected)
    missing = await twin.client.get(
        f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:bad-1", headers=link(SDM_CONTEXT)
    )
    assert missing.status_code == 404


async def test_one_bad_reading_does_not_cost_the_others(
    make_broker: BrokerFactory, mqtt_broker: MqttBroker
) -> None:
    twin, prefix = await _ingesting(make_broker, mqtt_broker)
    good = {"NO2": 12.0, "dateObserved": "2026-11-24T08:00:00Z",
            "location": {"type": "Point", "coordinates": [9.99, 53.55]}}  # fmt: skip
    bad = {**good, "NO2": -1}
    async with aiomqtt.Client(mqtt_broker.host, mqtt_broker.port) as client:
        await client.subscribe(f"{prefix}/default/errors", qos=1)
        for name, reading in (("ok-1", good), ("bad-2", bad), ("ok-3", good)):
            topic = f"{prefix}/default/AirQualityObserved/{name}"
            await client.publish(topic, json.dumps(reading), qos=1)
        async with asyncio.timeout(10):
            async for message in client.messages:
                report = json.loads(bytes(message.payload))  # type: ignore[arg-type]
                break
    assert report["topic"].endswith("AirQualityObserved/bad-2")

    async def settled() -> bool:
        status = (await twin.client.get("/management/v3/twin")).json()["mqtt"]
        return bool(status["applied"] == 2 and status["rejected"] == 1)

    await _until(settled)
    for name, status in (("ok-1", 200), ("bad-2", 404), ("ok-3", 200)):
        found = await twin.client.get(
            f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:{name}", headers=link(SDM_CONTEXT)
        )
        assert found.status_code == status, found.text
