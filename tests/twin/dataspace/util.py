"""Two connectors with their twins running, a provider twin to share, and the steps between."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from tests.connector.harness import Node, network
from tests.dataplane.util import agree, settle, state_is, transfer, wait_for

from twinspace.store import ContractDefinition, PolicyDefinition
from twinspace.twin.service import Twin

SDM = "https://smartdatamodels.org/context.jsonld"
LINK = {"Link": f'<{SDM}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'}
NGSI = "/ngsi-ld/v1"
MGMT = "/management/v3"
MADRID = [[[-3.8, 40.3], [-3.6, 40.3], [-3.6, 40.5], [-3.8, 40.5], [-3.8, 40.3]]]


def twin_of(node: Node) -> Twin:
    twin: Twin = node.app.state.twin
    return twin


@asynccontextmanager
async def space(tmp_path: Path, **overrides: Any) -> AsyncIterator[dict[str, Node]]:
    """provider + consumer, managers and twin notifiers running."""
    async with (
        network(tmp_path, ["provider", "consumer"], **overrides) as nodes,
        AsyncExitStack() as stack,
    ):
        for node in nodes.values():
            await stack.enter_async_context(twin_of(node).running())
        yield nodes


def air(n: int, no2: float, lon: float = -3.7, lat: float = 40.4) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:AirQualityObserved:station-{n}",
        "type": "AirQualityObserved",
        "dateObserved": {"type": "Property", "value": "2026-01-01T00:00:00Z"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
        "NO2": {
            "type": "Property",
            "value": no2,
            "unitCode": "GQ",
            "observedAt": "2026-01-01T10:00:00Z",
        },
        "SO2": {"type": "Property", "value": 1.5, "unitCode": "GQ"},
        "refDevice": {"type": "Relationship", "object": f"urn:ngsi-ld:Device:sensor-{n}"},
    }


def noise(n: int, laeq: float, lon: float = -3.7, lat: float = 40.41) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:NoiseLevelObserved:mic-{n}",
        "type": "NoiseLevelObserved",
        "dateObservedFrom": {"type": "Property", "value": "2026-01-01T00:00:00Z"},
        "dateObservedTo": {"type": "Property", "value": "2026-01-01T01:00:00Z"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
        "LAeq": {
            "type": "Property",
            "value": laeq,
            "observedAt": "2026-01-01T10:00:00Z",
        },
    }


async def upsert(node: Node, entities: list[dict[str, Any]], tenant: str = "") -> None:
    headers = {**LINK, **({"NGSILD-Tenant": tenant} if tenant else {})}
    r = await node.client.post(
        f"{NGSI}/entityOperations/upsert",
        json=entities,
        headers=headers,
        params={"options": "update"},
    )
    assert r.status_code in (201, 204), r.text


async def entities(node: Node, entity_type: str, tenant: str = "") -> list[dict[str, Any]]:
    headers = {**LINK, **({"NGSILD-Tenant": tenant} if tenant else {})}
    r = await node.client.get(
        f"{NGSI}/entities", params={"type": entity_type, "limit": 100}, headers=headers
    )
    if r.status_code == 404:  # tenant not created yet
        return []
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


async def publish(node: Node, asset_id: str, address: dict[str, Any]) -> httpx.Response:
    """A twin asset through the management API, offered to anyone."""
    r = await node.client.post(
        f"{MGMT}/assets",
        json={"@id": asset_id, "properties": {"name": asset_id}, "dataAddress": address},
    )
    if r.status_code != 200:
        return r
    now = node.connector.ctx.clock.now()
    with node.connector.store.transaction() as tx:
        tx.policies.insert(
            PolicyDefinition(
                id=f"policy-{asset_id}", policy={"permission": [{"action": "use"}]}, created_at=now
            )
        )
        tx.contract_definitions.insert(
            ContractDefinition(
                id=f"cd-{asset_id}",
                access_policy_id=f"policy-{asset_id}",
                contract_policy_id=f"policy-{asset_id}",
                assets_selector=[{"operandLeft": "id", "operator": "=", "operandRight": asset_id}],
                created_at=now,
            )
        )
    return r


async def pull(c: Node, p: Node, agreement_id: str) -> tuple[httpx.Response, str]:
    """Start a pull, fetch once through the EDR; (the response, the consumer's transfer id)."""
    r = await c.client.post(
        f"{MGMT}/transferprocesses",
        json={
            "contractId": agreement_id,
            "transferType": "HttpData-PULL",
            "counterPartyAddress": p.dsp,
        },
    )
    assert r.status_code == 200, r.text
    tid = r.json()["@id"]
    await settle((c, p), lambda: state_is(c, tid, "STARTED"))
    address = transfer(c, tid).data_address or {}
    props = {e["name"]: e["value"] for e in address.get("endpointProperties", [])}
    got = await p.client.get(
        "/public/data", headers={"Authorization": f"Bearer {props['authorization']}"}
    )
    return got, tid


__all__ = [
    "LINK",
    "MADRID",
    "MGMT",
    "agree",
    "air",
    "entities",
    "noise",
    "publish",
    "pull",
    "settle",
    "space",
    "state_is",
    "transfer",
    "twin_of",
    "upsert",
    "wait_for",
]
