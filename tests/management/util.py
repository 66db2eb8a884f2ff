"""Helpers for driving connectors only through their management API (tests/connector/harness)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from tests.connector.harness import Node

Json = dict[str, Any]
V3 = "/management/v3"
PROTOCOL = "dataspace-protocol-http:2025-1"


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON of a response with ``status``; AssertionError with the body otherwise."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url} -> {response.status_code}: "
        f"{response.text[:800]}"
    )
    return response.json() if response.content else None


def edc_error(response: httpx.Response, status: int, *words: str) -> str:
    """Assert an EDC error list with ``status``; returns its message (checked for ``words``)."""
    assert response.status_code == status, f"{response.status_code}: {response.text[:800]}"
    body = response.json()
    assert isinstance(body, list) and body, body
    assert all(set(e) >= {"message", "type"} for e in body), body
    message = str(body[0]["message"])
    for word in words:
        assert word.lower() in message.lower(), message
    return message


async def post(node: Node, path: str, body: Any = None, **kw: Any) -> httpx.Response:
    return await node.client.post(V3 + path, json=body, **kw)


async def get(node: Node, path: str) -> httpx.Response:
    return await node.client.get(V3 + path)


async def publish(node: Node, asset_id: str, data: Path, policy: Json | None = None) -> None:
    """Asset + policy + contract definition offering the file ``data`` as ``asset_id``."""
    ok(
        await post(
            node,
            "/assets",
            {
                "@id": asset_id,
                "properties": {"name": asset_id, "contenttype": "text/csv"},
                "dataAddress": {"type": "File", "path": str(data)},
            },
        )
    )
    ok(
        await post(
            node,
            "/policydefinitions",
            {"@id": f"policy-{asset_id}", "policy": policy or {"permission": [{"action": "use"}]}},
        )
    )
    ok(
        await post(
            node,
            "/contractdefinitions",
            {
                "@id": f"cd-{asset_id}",
                "accessPolicyId": f"policy-{asset_id}",
                "contractPolicyId": f"policy-{asset_id}",
                "assetsSelector": [
                    {"operandLeft": "id", "operator": "=", "operandRight": asset_id}
                ],
            },
        )
    )


async def poll(
    node: Node, path: str, *, until: Any, timeout: float = 10.0, interval: float = 0.02
) -> Json:
    """GET ``path`` until ``until(document)`` holds; AssertionError with the last one otherwise."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        doc: Json = ok(await get(node, path))
        if until(doc):
            return doc
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"GET {path}: condition not met in {timeout} s; last: {doc}")
        await asyncio.sleep(interval)


async def wait_state(node: Node, path: str, state: str, timeout: float = 10.0) -> Json:
    return await poll(node, path, until=lambda d: d.get("state") == state, timeout=timeout)


async def offer_for(consumer: Node, provider: Node, asset_id: str) -> tuple[Json, Json]:
    """(catalog, offer ready to negotiate) for ``asset_id``, asked through the consumer."""
    catalog: Json = ok(
        await post(
            consumer,
            "/catalog/request",
            {"counterPartyAddress": provider.dsp, "protocol": PROTOCOL},
        )
    )
    dataset = next(d for d in catalog["dataset"] if d["@id"] == asset_id)
    offer = {**dataset["hasPolicy"][0], "target": asset_id, "assigner": catalog["participantId"]}
    return catalog, offer


async def negotiate(consumer: Node, provider: Node, asset_id: str) -> Json:
    """Negotiate ``asset_id`` through the consumer's management API; the FINALIZED negotiation."""
    _catalog, offer = await offer_for(consumer, provider, asset_id)
    created = ok(
        await post(
            consumer,
            "/contractnegotiations",
            {"counterPartyAddress": provider.dsp, "protocol": PROTOCOL, "policy": offer},
        )
    )
    return await wait_state(consumer, f"/contractnegotiations/{created['@id']}", "FINALIZED")


async def start_pull(consumer: Node, provider: Node, agreement_id: str) -> Json:
    """Start an HttpData-PULL transfer and wait until it is STARTED."""
    created = ok(
        await post(
            consumer,
            "/transferprocesses",
            {
                "counterPartyAddress": provider.dsp,
                "contractId": agreement_id,
                "transferType": "HttpData-PULL",
                "protocol": PROTOCOL,
            },
        )
    )
    return await wait_state(consumer, f"/transferprocesses/{created['@id']}", "STARTED")
