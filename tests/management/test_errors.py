"""API key, malformed bodies, missing fields and unknown ids: always an EDC error list, never 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tests.connector.harness import API_KEY, Node, network
from tests.management.util import PROTOCOL, V3, edc_error, get, ok, post

UNKNOWN = "urn:uuid:00000000-0000-0000-0000-000000000000"


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    async with network(tmp_path, ["consumer"]) as nodes:
        yield nodes["consumer"]


def raw_client(node: Node, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=node.app),
        base_url="http://consumer.test",
        headers=headers or {},
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/assets/request"),
        ("GET", "/assets/a1"),
        ("POST", "/contractnegotiations"),
        ("GET", "/transferprocesses/x/state"),
        ("GET", "/edrs/x/dataaddress"),
    ],
)
async def test_api_key_is_required(node: Node, method: str, path: str) -> None:
    for version in ("v3", "v4alpha"):
        url = f"/management/{version}{path}"
        async with raw_client(node) as anonymous:
            missing = await anonymous.request(method, url, json={})
        edc_error(missing, 401, "missing")
        assert missing.json()[0]["type"] == "AuthenticationFailed"
        async with raw_client(node, {"X-Api-Key": "wrong"}) as wrong:
            edc_error(await wrong.request(method, url, json={}), 401, "not valid")


async def test_right_key_is_accepted(node: Node) -> None:
    async with raw_client(node, {"X-Api-Key": API_KEY}) as client:
        assert ok(await client.post(V3 + "/assets/request", json={})) == []


async def test_openapi_page_stays_open(node: Node) -> None:
    async with raw_client(node) as anonymous:
        spec = await anonymous.get("/management/openapi.json")
    assert spec.status_code == 200
    assert "/management/v3/assets" in spec.json()["paths"]
    assert "/management/v4alpha/assets" in spec.json()["paths"]


@pytest.mark.parametrize(
    "path",
    [
        "/assets",
        "/policydefinitions",
        "/contractdefinitions",
        "/contractnegotiations",
        "/transferprocesses",
        "/catalog/request",
        "/catalog/dataset/request",
        "/assets/request",
    ],
)
async def test_malformed_json(node: Node, path: str) -> None:
    bad = await node.client.post(
        V3 + path, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    edc_error(bad, 400, "not valid JSON")
    edc_error(await node.client.post(V3 + path, json=[1, 2]), 400, "JSON object")


@pytest.mark.parametrize("path", ["/assets", "/contractnegotiations", "/transferprocesses"])
async def test_empty_body(node: Node, path: str) -> None:
    edc_error(await node.client.post(V3 + path), 400, "required")


async def test_negotiation_missing_or_wrong_fields(node: Node) -> None:
    offer = {"@id": "o1", "@type": "Offer", "target": "a1", "permission": [{"action": "use"}]}
    cases = [
        ({"policy": offer}, "counterPartyAddress"),
        ({"counterPartyAddress": 5, "policy": offer}, "counterPartyAddress"),
        ({"counterPartyAddress": "ftp://x", "policy": offer}, "http"),
        ({"counterPartyAddress": "http://p.test/dsp"}, "policy"),
        ({"counterPartyAddress": "http://p.test/dsp", "policy": "o1"}, "policy"),
        ({"counterPartyAddress": "http://p.test/dsp", "policy": {**offer, "@id": None}}, "@id"),
        (
            {"counterPartyAddress": "http://p.test/dsp", "policy": {**offer, "target": None}},
            "target",
        ),
        (
            {"counterPartyAddress": "http://p.test/dsp", "policy": {**offer, "@type": "Dataset"}},
            "@type",
        ),
        (
            {"counterPartyAddress": "http://p.test/dsp", "protocol": "dataspace-protocol-http"},
            "protocol",
        ),
        (
            {"counterPartyAddress": "http://p.test/dsp", "policy": {"@id": "o", "target": "a"}},
            "offer",
        ),
    ]
    for body, word in cases:
        edc_error(await post(node, "/contractnegotiations", body), 400, word)
    assert ok(await post(node, "/contractnegotiations/request", {})) == []


async def test_transfer_missing_or_wrong_fields(node: Node) -> None:
    base = {
        "counterPartyAddress": "http://p.test/dsp",
        "contractId": "nope",
        "transferType": "HttpData-PULL",
        "protocol": PROTOCOL,
    }
    edc_error(
        await post(node, "/transferprocesses", {**base, "contractId": None}), 400, "contractId"
    )
    edc_error(await post(node, "/transferprocesses", base), 400, "no contract agreement")
    edc_error(
        await post(node, "/transferprocesses", {**base, "transferType": "S3-PUSH"}),
        400,
        "transferType",
    )
    edc_error(
        await post(node, "/transferprocesses", {**base, "transferType": ["HttpData-PULL"]}),
        400,
        "transferType",
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/contractnegotiations/{UNKNOWN}"),
        ("GET", f"/contractnegotiations/{UNKNOWN}/state"),
        ("GET", f"/contractnegotiations/{UNKNOWN}/agreement"),
        ("POST", f"/contractnegotiations/{UNKNOWN}/terminate"),
        ("GET", f"/contractagreements/{UNKNOWN}"),
        ("GET", f"/contractagreements/{UNKNOWN}/negotiation"),
        ("GET", f"/transferprocesses/{UNKNOWN}"),
        ("GET", f"/transferprocesses/{UNKNOWN}/state"),
        ("POST", f"/transferprocesses/{UNKNOWN}/suspend"),
        ("POST", f"/transferprocesses/{UNKNOWN}/resume"),
        ("POST", f"/transferprocesses/{UNKNOWN}/complete"),
        ("POST", f"/transferprocesses/{UNKNOWN}/terminate"),
        ("GET", f"/edrs/{UNKNOWN}/dataaddress"),
        ("GET", "/assets/nope"),
        ("GET", "/policydefinitions/nope"),
        ("GET", "/contractdefinitions/nope"),
        ("DELETE", "/assets/nope"),
    ],
)
async def test_unknown_ids(node: Node, method: str, path: str) -> None:
    response = await node.client.request(method, V3 + path, json={"reason": "x"})
    edc_error(response, 404, "not found")
    assert response.json()[0]["type"] == "ObjectNotFound"


async def test_unknown_route_and_method(node: Node) -> None:
    edc_error(await get(node, "/nothing-here"), 404)
    edc_error(await node.client.patch(V3 + "/assets"), 405)


async def test_reason_must_be_a_string(node: Node) -> None:
    edc_error(
        await post(node, f"/contractnegotiations/{UNKNOWN}/terminate", {"reason": ["a"]}),
        400,
        "reason",
    )


async def test_body_too_large(tmp_path: Path) -> None:
    async with network(tmp_path, ["consumer"], max_body_bytes=100) as nodes:
        big = {"@id": "a", "properties": {"x": "y" * 200}, "dataAddress": {"type": "X"}}
        edc_error(await post(nodes["consumer"], "/assets", big), 413, "exceeds")
