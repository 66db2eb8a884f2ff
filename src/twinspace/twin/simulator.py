"""Simulated city sensors for the demo: deterministic, plausible Smart Data Models readings.

:func:`readings` is pure: the same sensors, time and seed always give the same payloads (the noise
comes from a generator seeded with ``seed``, the sensor id and the time). Values follow the local
solar hour (UTC hour + longitude / 15):

* traffic has a morning (≈08:00) and an evening (≈18:00) rush-hour peak, a midday plateau and a quiet
  night, about 30 % less at weekends; speed falls and occupancy rises with it;
* NO2, CO and particulate matter follow traffic; O3 follows the sun and is depleted by NO2;
* noise (LAeq) follows traffic logarithmically (dB), LAmax above and LA90 below it;
* temperature has a seasonal and a diurnal cycle (warmest ≈15:00), humidity moves against it.

Each reading is ``(topic, payload)`` with ``topic = "<tenant>/<EntityType>/<entity-id>"`` (the
``<tenant>`` segment is ``default`` for the default tenant) and ``payload`` a keyValues object of
the Smart Data Model (``TrafficFlowObserved``, ``AirQualityObserved``, ``NoiseLevelObserved``,
``WeatherObserved``) including ``dateObserved``, ``observedAt`` and a GeoJSON ``location``;
:func:`publish` sends them under ``<prefix>/`` (see :mod:`twinspace.twin.ingest`).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt

from twinspace.twin.ingest import DEFAULT_PREFIX, tenant_segment

__all__ = [
    "SENSOR_TYPES",
    "Reading",
    "Sensor",
    "city_sensors",
    "diurnal_traffic",
    "publish",
    "readings",
]

SENSOR_TYPES = (
    "TrafficFlowObserved",
    "AirQualityObserved",
    "NoiseLevelObserved",
    "WeatherObserved",
)
TRAFFIC_PERIOD = timedelta(minutes=15)  # intensity counts the vehicles of one such period
NOISE_PERIOD = timedelta(minutes=15)  # LAeq/LAmax/LA90 are over one such period
LANE_CAPACITY = 1800.0  # vehicles per hour per lane at saturation
FREE_FLOW_SPEED = 50.0  # km/h, urban

Reading = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Sensor:
    """One simulated sensor: an entity ``id`` (URN) of a Smart Data Models ``type`` at lon/lat."""

    id: str
    type: str
    lon: float
    lat: float
    tenant: str = ""
    lane_id: int = 1

    def __post_init__(self) -> None:
        if self.type not in SENSOR_TYPES:
            raise ValueError(f"unknown sensor type {self.type!r}; one of {SENSOR_TYPES}")
        if not self.id.startswith("urn:"):
            raise ValueError(f"sensor id must be a URN, got {self.id!r}")

    @property
    def device(self) -> str:
        """The ``refDevice`` URN: ``urn:ngsi-ld:Device:<type>-<last part of the id>``."""
        return f"urn:ngsi-ld:Device:{self.type}-{self.id.rsplit(':', 1)[-1]}"

    @property
    def topic(self) -> str:
        """``<tenant>/<type>/<id>`` (prefix not included)."""
        return f"{tenant_segment(self.tenant)}/{self.type}/{self.id}"


def city_sensors(
    *,
    center: tuple[float, float] = (-3.7038, 40.4168),
    per_type: int = 3,
    tenant: str = "",
    city: str = "Madrid",
    seed: int = 0,
    spread: float = 0.02,
) -> list[Sensor]:
    """``per_type`` sensors of each type scattered (deterministically) around ``center``."""
    rng = random.Random(_seed_of(seed, city, tenant))
    sensors: list[Sensor] = []
    for sensor_type in SENSOR_TYPES:
        for index in range(1, per_type + 1):
            lon = round(center[0] + rng.uniform(-spread, spread), 6)
            lat = round(center[1] + rng.uniform(-spread, spread) * 0.75, 6)
            sensors.append(
                Sensor(
                    id=f"urn:ngsi-ld:{sensor_type}:{city}-{index:03d}",
                    type=sensor_type,
                    lon=lon,
                    lat=lat,
                    tenant=tenant,
                    lane_id=1 + (index - 1) % 3,
                )
            )
    return sensors


def diurnal_traffic(local_hour: float, weekday: int) -> float:
    """Relative traffic (≈0.1 at night, ≈1 at the peaks) at a local hour; weekday 0 = Monday."""
    morning = math.exp(-(((local_hour - 8.0) / 1.3) ** 2) / 2)
    evening = 0.9 * math.exp(-(((local_hour - 18.0) / 1.6) ** 2) / 2)
    day = 0.45 / (1 + math.exp(-(local_hour - 6.5) * 2)) / (1 + math.exp((local_hour - 21.5) * 1.5))
    level = 0.08 + max(morning, evening, day) + 0.15 * min(morning, evening, day)
    if weekday >= 5:
        level = 0.08 + 0.7 * (level - 0.08) * (0.6 if local_hour < 11 else 1.0)
    return level


def readings(sensors: Iterable[Sensor], at: datetime, *, seed: int = 0) -> list[Reading]:
    """One reading per sensor at ``at`` (timezone-aware; naive means UTC)."""
    moment = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).replace(microsecond=0)
    out: list[Reading] = []
    for sensor in sensors:
        rng = random.Random(_seed_of(seed, sensor.id, moment.isoformat()))
        env = _Environment.at(sensor, moment)
        payload: dict[str, Any] = {"type": sensor.type}
        payload.update(_GENERATORS[sensor.type](sensor, env, rng, moment))
        stamp = _stamp(moment)
        payload["dateObserved"] = stamp
        payload["observedAt"] = stamp
        payload["location"] = {"type": "Point", "coordinates": [sensor.lon, sensor.lat]}
        out.append((sensor.topic, payload))
    return out


async def publish(
    host: str, port: int, prefix: str, messages: Iterable[Reading], *, qos: int = 1
) -> int:
    """Publish ``messages`` (from :func:`readings`) under ``<prefix>/``; returns how many."""
    stem = (prefix or DEFAULT_PREFIX).strip("/")
    count = 0
    async with aiomqtt.Client(host, port) as client:
        for topic, payload in messages:
            await client.publish(f"{stem}/{topic}", json.dumps(payload), qos=qos)
            count += 1
    return count


@dataclass(frozen=True)
class _Environment:
    traffic: float  # relative, ≈0.1..1.1
    sun: float  # 0 at night .. 1 at solar noon
    temperature: float  # °C before noise

    @classmethod
    def at(cls, sensor: Sensor, moment: datetime) -> _Environment:
        local = moment + timedelta(hours=sensor.lon / 15.0)
        hour = local.hour + local.minute / 60 + local.second / 3600
        day_of_year = local.timetuple().tm_yday
        season = -math.cos(2 * math.pi * (day_of_year - 15) / 365.25)  # -1 mid-Jan, +1 mid-Jul
        day_length = 12.0 + 3.0 * season
        sun = max(0.0, math.cos(math.pi * (hour - 13.0) / day_length))
        mean = 14.0 + 9.0 * season - 0.004 * max(0.0, sensor.lat - 40.0) * 100
        temperature = mean + 6.0 * math.cos(2 * math.pi * (hour - 15.0) / 24.0)
        return cls(diurnal_traffic(hour, local.weekday()), sun, temperature)


def _seed_of(*parts: object) -> int:
    digest = hashlib.sha256("|".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _noisy(rng: random.Random, value: float, relative: float) -> float:
    return value * (1.0 + rng.gauss(0.0, relative))


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def _traffic(
    sensor: Sensor, env: _Environment, rng: random.Random, moment: datetime
) -> dict[str, Any]:
    flow = _clamp(_noisy(rng, env.traffic, 0.08), 0.02, 1.2)  # share of lane capacity
    hours = TRAFFIC_PERIOD.total_seconds() / 3600
    intensity = round(LANE_CAPACITY * flow * hours)
    occupancy = _clamp(0.02 + 0.55 * flow**2 + rng.gauss(0.0, 0.01), 0.0, 0.98)
    speed = _clamp(FREE_FLOW_SPEED * (1.0 - 0.75 * occupancy) + rng.gauss(0.0, 2.0), 5.0, 70.0)
    return {
        "laneId": sensor.lane_id,
        "intensity": intensity,
        "averageVehicleSpeed": round(speed, 1),
        "occupancy": round(occupancy, 3),
        "dateObservedFrom": _stamp(moment - TRAFFIC_PERIOD),
        "dateObservedTo": _stamp(moment),
        "refDevice": sensor.device,
    }


def _air(sensor: Sensor, env: _Environment, rng: random.Random, moment: datetime) -> dict[str, Any]:
    no2 = _clamp(_noisy(rng, 10.0 + 60.0 * env.traffic, 0.1), 2.0, 400.0)
    pm10 = _clamp(_noisy(rng, 12.0 + 22.0 * env.traffic, 0.12), 1.0, 300.0)
    pm25 = _clamp(pm10 * (0.55 + rng.uniform(-0.05, 0.05)), 0.5, pm10)
    o3 = _clamp(_noisy(rng, 25.0 + 70.0 * env.sun - 0.35 * no2, 0.1), 2.0, 300.0)
    co = _clamp(_noisy(rng, 200.0 + 700.0 * env.traffic, 0.1), 50.0, 10000.0)
    return {
        "NO2": round(no2, 1),
        "PM10": round(pm10, 1),
        "PM2_5": round(pm25, 1),
        "O3": round(o3, 1),
        "CO": round(co, 1),
        "refDevice": sensor.device,
    }


def _noise(
    sensor: Sensor, env: _Environment, rng: random.Random, moment: datetime
) -> dict[str, Any]:
    laeq = 45.0 + 10.0 * math.log10(1.0 + 60.0 * env.traffic) + rng.gauss(0.0, 1.0)
    return {
        "dateObservedFrom": _stamp(moment - NOISE_PERIOD),
        "dateObservedTo": _stamp(moment),
        "LAeq": round(laeq, 1),
        "LAmax": round(laeq + 10.0 + rng.uniform(0.0, 10.0), 1),
        "LA90": round(laeq - 6.0 - rng.uniform(0.0, 6.0), 1),
    }


def _weather(
    sensor: Sensor, env: _Environment, rng: random.Random, moment: datetime
) -> dict[str, Any]:
    temperature = env.temperature + rng.gauss(0.0, 0.4)
    humidity = _clamp(0.6 - 0.025 * (temperature - 15.0) + rng.gauss(0.0, 0.03), 0.1, 1.0)
    wind = _clamp(1.5 + 2.5 * env.sun + rng.gauss(0.0, 0.8), 0.0, 30.0)
    return {
        "temperature": round(temperature, 1),
        "relativeHumidity": round(humidity, 2),
        "windSpeed": round(wind, 1),
        "refDevice": sensor.device,
    }


_GENERATORS = {
    "TrafficFlowObserved": _traffic,
    "AirQualityObserved": _air,
    "NoiseLevelObserved": _noise,
    "WeatherObserved": _weather,
}
