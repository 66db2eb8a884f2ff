"""The demo's city twin: sensors feed the providers' brokers over MQTT, and the city subscribes to
both twins through the data space.

1. the mobility operator's traffic counters and the environment agency's air-quality and noise
   stations (simulated, seeded) publish readings to Mosquitto; each provider's broker ingests
   them (when Mosquitto cannot be reached the sensors post to the brokers over HTTP instead, and
   the demo says so);
2. each provider publishes its twin as a catalog asset (an ``NgsiLdQuery`` data address: entity
   types, attributes, and a view that hides device references);
3. the city negotiates for both twins and starts an ``NgsiLd-PUSH`` transfer for each: the
   providers subscribe it to their brokers, so the current state arrives at once;
4. a quarter of an hour later (simulated) the sensors report again, the changes are pushed to the
   city, and the city's own twin shows the combined picture.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from rich.table import Table

from twinspace.cli import flows
from twinspace.cli.client import Json
from twinspace.cli.console import console
from twinspace.demo.participants import DemoError, Participant
from twinspace.twin.ingest import key_values_entity
from twinspace.twin.simulator import Sensor, city_sensors, publish, readings

MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883
SDM_CONTEXT = "https://smartdatamodels.org/context.jsonld"
LINK = f'<{SDM_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
CENTRE = (9.9937, 53.5511)  # Twinsburg's town hall
#: What each provider's sensors measure, and the twin asset it publishes.
TWINS = {
    "mobility": ("traffic-twin", ("TrafficFlowObserved",), "Live traffic flow at intersections"),
    "environment": (
        "environment-twin",
        ("AirQualityObserved", "NoiseLevelObserved"),
        "Live air quality and noise at monitoring stations",
    ),
}
#: The figures the city's summary shows per entity type: (attribute, unit, label).
FIGURES = {
    "TrafficFlowObserved": ("intensity", "veh/15 min", "intensity"),
    "AirQualityObserved": ("NO2", "µg/m³", "NO2"),
    "NoiseLevelObserved": ("LAeq", "dB(A)", "LAeq"),
}
MEMBERS_ONLY: Json = {
    "permission": [
        {
            "action": "use",
            "constraint": [
                {"leftOperand": "twinspace:membership", "operator": "eq", "rightOperand": "active"}
            ],
        }
    ]
}


@dataclass
class TwinSummary:
    transport: str = "MQTT"
    readings: int = 0
    transfers: dict[str, str] = field(default_factory=dict)  # asset -> transfer id
    rows: list[tuple[str, str, int, str, str]] = field(default_factory=list)
    pushed: int = 0
    latency: float = 0.0


def mqtt_reachable(host: str = MQTT_HOST, port: int = MQTT_PORT) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def mqtt_settings(prefix: str) -> dict[str, str]:
    """The settings that make a provider ingest its sensors from Mosquitto."""
    return {
        "TWINSPACE_MQTT_URL": f"mqtt://{MQTT_HOST}:{MQTT_PORT}",
        "TWINSPACE_MQTT_PREFIX": prefix,
    }


def sensors_of(key: str) -> list[Sensor]:
    kinds = TWINS[key][1]
    every = city_sensors(center=CENTRE, per_type=4, city="Twinsburg", seed=7, spread=0.015)
    return [s for s in every if s.type in kinds]


def _done(text: str, seconds: float | None = None) -> None:
    took = f" [dim]({seconds:.2f} s)[/]" if seconds is not None else ""
    console.print(f"[green]✓[/] {text}{took}")


async def _ngsi(
    p: Participant,
    method: str,
    path: str,
    *,
    params: dict[str, str] | None = None,
    body: Any = None,
) -> httpx.Response:
    headers = {"Link": LINK, "X-Api-Key": p.api_key}
    async with httpx.AsyncClient(base_url=f"{p.base_url}/ngsi-ld/v1", timeout=10) as client:
        response = await client.request(method, path, params=params, json=body, headers=headers)
    if response.status_code >= 400:
        raise DemoError(
            f"the {p.label}'s broker answered {response.status_code}: {response.text}", p
        )
    return response


async def report(p: Participant, sensors: list[Sensor], at: datetime, transport: str) -> int:
    """The sensors' readings at ``at``, sent the way the demo can (MQTT, else HTTP)."""
    messages = readings(sensors, at, seed=7)
    if transport == "MQTT":
        prefix = p.settings["TWINSPACE_MQTT_PREFIX"]
        return await publish(MQTT_HOST, MQTT_PORT, prefix, messages)
    entities = []
    for topic, payload in messages:
        _tenant, entity_type, entity_id = topic.split("/", 2)
        entities.append(key_values_entity(payload, entity_type, entity_id))
    await _ngsi(p, "POST", "/entityOperations/upsert", params={"options": "update"}, body=entities)
    return len(entities)


async def wait_for(
    p: Participant, sensors: list[Sensor], at: datetime, what: str, timeout: float = 20.0
) -> float:
    """Until ``p``'s twin holds every sensor's reading observed at ``at``; seconds waited."""
    began = time.monotonic()
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S")
    types = ",".join(sorted({s.type for s in sensors}))
    while True:
        found = await _ngsi(
            p,
            "GET",
            "/entities",
            params={"type": types, "q": f"dateObserved=={stamp}Z", "count": "true", "limit": "0"},
        )
        if int(found.headers.get("NGSILD-Results-Count", "0")) >= len(sensors):
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            raise DemoError(
                f"{what}: not all {len(sensors)} readings arrived in {timeout:.0f} s", p
            )
        await asyncio.sleep(0.1)


async def publish_twin(provider: Participant) -> None:
    asset_id, kinds, description = TWINS[provider.key]
    async with provider.client() as api:
        await api.create_asset(
            asset_id,
            {"name": description, "description": description, "contenttype": "application/json"},
            {
                "type": "NgsiLdQuery",
                "entityType": ",".join(kinds),
                "context": SDM_CONTEXT,
                "view": {"omitAttrs": ["refDevice"]},
            },
        )
        policy_id = f"policy-{asset_id}"
        await api.create_policy(policy_id, MEMBERS_ONLY)
        await api.create_contract_definition(f"offer-{asset_id}", policy_id, policy_id, asset_id)


async def subscribe(city: Participant, provider: Participant) -> str:
    """The city negotiates for the provider's twin and starts the push of its changes."""
    asset_id = TWINS[provider.key][0]
    async with city.client() as api:
        catalog = await api.request_catalog(provider.dsp_url, provider.participant_id)
        negotiated = await flows.negotiate(
            api, provider.dsp_url, asset_id, catalog=catalog, provider_id=provider.participant_id
        )
        transfer_id = await api.start_transfer(
            provider.dsp_url, negotiated.agreement_id, "NgsiLd-PUSH"
        )
        await flows.wait_for_state(
            lambda: api.transfer(transfer_id),
            {"STARTED"},
            what=f"the {asset_id} subscription",
            timeout=20,
        )
    return transfer_id


async def city_picture(city: Participant, summary: TwinSummary) -> None:
    """The city's own twin, one row per entity type: how many, the mean figure, the newest."""
    for kind, (attr, unit, label) in FIGURES.items():
        found = await _ngsi(
            city,
            "GET",
            "/entities",
            params={"type": kind, "options": "keyValues", "limit": "100"},
        )
        entities = found.json()
        values = [e[attr] for e in entities if isinstance(e.get(attr), int | float)]
        newest = max((str(e.get("dateObserved", "")) for e in entities), default="")
        mean = f"{label} {statistics.fmean(values):.1f} {unit}" if values else "-"
        summary.rows.append((kind, label, len(entities), mean, newest[11:16] + " UTC"))
        history = await _ngsi(
            city,
            "GET",
            "/temporal/entities",
            params={"type": kind, "attrs": attr, "options": "temporalValues", "limit": "100"},
        )
        for entity in history.json():
            summary.pushed += len((entity.get(attr) or {}).get("values", []))


async def city_twin(fleet: list[Participant]) -> TwinSummary:
    by_key = {p.key: p for p in fleet}
    city, providers = by_key["city"], [by_key["mobility"], by_key["environment"]]
    summary = TwinSummary(
        transport="MQTT" if "TWINSPACE_MQTT_URL" in providers[0].settings else "HTTP"
    )
    if summary.transport == "HTTP":
        console.print(
            f"[yellow]Mosquitto is not reachable at {MQTT_HOST}:{MQTT_PORT}: the simulated "
            "sensors post to the brokers over HTTP instead[/]"
        )
    first = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=15)
    for provider in providers:
        sensors = sensors_of(provider.key)
        began = time.monotonic()
        summary.readings += await report(provider, sensors, first, summary.transport)
        waited = await wait_for(provider, sensors, first, f"the {provider.label}'s sensors")
        _done(
            f"{len(sensors)} {provider.label} sensors reported over {summary.transport}; "
            f"its broker holds them",
            max(waited, time.monotonic() - began),
        )
        await publish_twin(provider)
        _done(f"{provider.label} published its twin as {TWINS[provider.key][0]}")
    for provider in providers:
        began = time.monotonic()
        transfer_id = await subscribe(city, provider)
        summary.transfers[TWINS[provider.key][0]] = transfer_id
        await wait_for(city, sensors_of(provider.key), first, f"the {provider.label}'s snapshot")
        _done(
            f"city subscribed to the {provider.label}'s twin; the current state arrived",
            time.monotonic() - began,
        )
    later = first + timedelta(minutes=15)
    began = time.monotonic()
    for provider in providers:
        summary.readings += await report(
            provider, sensors_of(provider.key), later, summary.transport
        )
    for provider in providers:
        await wait_for(city, sensors_of(provider.key), later, f"the {provider.label}'s changes")
    summary.latency = time.monotonic() - began
    _done("new readings reached the city's twin through the data space", summary.latency)
    await city_picture(city, summary)
    return summary


def print_twin(summary: TwinSummary) -> None:
    table = Table(title="the city's twin (pushed through the data space)", title_justify="left")
    for column in ("entity type", "entities", "mean of the latest readings", "observed"):
        table.add_column(column, no_wrap=True)
    for kind, _label, count, mean, newest in summary.rows:
        table.add_row(kind, str(count), mean, newest)
    console.print(table)
    console.print(
        f"{summary.readings} sensor readings sent over {summary.transport}; "
        f"{summary.pushed} attribute values reached the city through "
        f"{len(summary.transfers)} NgsiLd-PUSH transfers; sensor to city twin in "
        f"{summary.latency:.2f} s"
    )
