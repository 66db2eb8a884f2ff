"""The DSP HTTPS binding of one connector, driven with raw protocol messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.connector.dsp import catalog_request, contract_request, pid_message
from tests.connector.harness import Node, network

from twinspace.protocol.schemas import validate, validate_version_document

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def provider(tmp_path: Path) -> AsyncIterator[Node]:
    async with network(tmp_path, ["provider"], run_managers=False, catalog_page_size=2) as nodes:
        node = nodes["provider"]
        for name in ("a", "b", "c"):
            node.add_offer(name, {"type": "File", "path": str(tmp_path / name)})
        yield node


async def offer_for(node: Node, dataset: str) -> dict[str, Any]:
    r = await node.client.get(f"/dsp/catalog/datasets/{dataset}")
    assert r.status_code == 200
    offer: dict[str, Any] = r.json()["hasPolicy"][0]
    return {**offer, "target": dataset}


async def open_negotiation(node: Node, consumer_pid: str = "urn:uuid:c-1") -> dict[str, Any]:
    r = await node.client.post(
        "/dsp/negotiations/request", json=contract_request(consumer_pid, await offer_for(node, "a"))
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_version_endpoint_is_unauthenticated_and_valid(provider: Node) -> None:
    r = await provider.client.get("/.well-known/dspace-version", headers={"X-Api-Key": ""})
    assert r.status_code == 200
    validate_version_document(r.json())
    assert r.json()["protocolVersions"][0]["version"] == "2025-1"


async def test_catalog_pages_with_link_headers(provider: Node) -> None:
    r = await provider.client.post("/dsp/catalog/request", json=catalog_request(filter=[]))
    assert r.status_code == 200
    validate(r.json(), "Catalog")
    first = [d["@id"] for d in r.json()["dataset"]]
    assert len(first) == 2
    assert 'rel="next"' in r.headers["link"]
    next_url = r.headers["link"].split(";")[0].strip("<>")
    r2 = await provider.client.post(next_url, json=catalog_request())
    assert [d["@id"] for d in r2.json()["dataset"]] == ["c"]
    assert 'rel="previous"' in r2.headers["link"]
    assert "next" not in r2.headers["link"]


async def test_catalog_filter_is_refused_with_catalog_error(provider: Node) -> None:
    r = await provider.client.post("/dsp/catalog/request", json=catalog_request(filter=[{"x": 1}]))
    assert r.status_code == 400
    validate(r.json(), "CatalogError")


async def test_dataset_by_id(provider: Node) -> None:
    r = await provider.client.get("/dsp/catalog/datasets/b")
    assert r.status_code == 200
    validate(r.json(), "Dataset")
    r = await provider.client.get("/dsp/catalog/datasets/nope")
    assert r.status_code == 404
    validate(r.json(), "CatalogError")


async def test_initial_request_is_201_and_idempotent(provider: Node) -> None:
    first = await open_negotiation(provider)
    validate(first, "ContractNegotiation")
    assert first["state"] == "REQUESTED"
    again = await open_negotiation(provider)
    assert again == first
    with provider.connector.store.transaction() as tx:
        assert tx.negotiations.count() == 1
    r = await provider.client.get(f"/dsp/negotiations/{first['providerPid']}")
    assert r.status_code == 200 and r.json()["state"] == "REQUESTED"


async def test_unknown_offer_is_400_and_creates_nothing(provider: Node) -> None:
    offer = {"@id": "urn:nope", "@type": "Offer", "target": "a", "permission": [{"action": "use"}]}
    r = await provider.client.post(
        "/dsp/negotiations/request", json=contract_request("urn:uuid:x", offer)
    )
    assert r.status_code == 400
    validate(r.json(), "ContractNegotiationError")
    assert "unknown offer" in r.json()["reason"][0]
    with provider.connector.store.transaction() as tx:
        assert tx.negotiations.count() == 0


async def test_changed_offer_is_refused(provider: Node) -> None:
    offer = await offer_for(provider, "a")
    offer["permission"] = [
        {
            "action": "use",
            "constraint": [{"leftOperand": "purpose", "operator": "eq", "rightOperand": "x"}],
        }
    ]
    r = await provider.client.post(
        "/dsp/negotiations/request", json=contract_request("urn:uuid:x", offer)
    )
    assert r.status_code == 400
    assert r.json()["code"] == "OFFER_MISMATCH"


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"{not json", 400),
        (b"", 400),
        (b"[1, 2]", 400),
        (b'{"@type": "ContractRequestMessage"}', 400),
        (
            b'{"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"], "@type": "TransferRequestMessage"}',
            400,
        ),
    ],
)
async def test_bad_bodies_get_negotiation_errors(
    provider: Node, content: bytes, status: int
) -> None:
    r = await provider.client.post(
        "/dsp/negotiations/request", content=content, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == status
    validate(r.json(), "ContractNegotiationError")
    with provider.connector.store.transaction() as tx:
        assert tx.negotiations.count() == 0


async def test_oversized_body_is_413(provider: Node) -> None:
    big = b'{"x": "' + b"a" * (provider.connector.ctx.settings.max_body_bytes + 10) + b'"}'
    r = await provider.client.post(
        "/dsp/transfers/request", content=big, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    validate(r.json(), "TransferError")


async def test_unknown_process_is_404(provider: Node) -> None:
    r = await provider.client.get("/dsp/negotiations/urn:uuid:none")
    assert r.status_code == 404
    validate(r.json(), "ContractNegotiationError")
    msg = pid_message("ContractAgreementVerificationMessage", "urn:uuid:none", "urn:uuid:c")
    r = await provider.client.post(
        "/dsp/negotiations/urn:uuid:none/agreement/verification", json=msg
    )
    assert r.status_code == 404
    r = await provider.client.get("/dsp/transfers/urn:uuid:none")
    assert r.status_code == 404
    validate(r.json(), "TransferError")


async def test_illegal_transition_is_400_and_changes_nothing(provider: Node) -> None:
    n = await open_negotiation(provider)
    pp, cp = n["providerPid"], n["consumerPid"]
    msg = pid_message("ContractAgreementVerificationMessage", pp, cp)
    r = await provider.client.post(f"/dsp/negotiations/{pp}/agreement/verification", json=msg)
    assert r.status_code == 400
    body = r.json()
    validate(body, "ContractNegotiationError")
    assert body["providerPid"] == pp and "REQUESTED" in body["reason"][0]
    assert (await provider.client.get(f"/dsp/negotiations/{pp}")).json()["state"] == "REQUESTED"


async def test_wrong_event_type_and_wrong_role(provider: Node) -> None:
    n = await open_negotiation(provider)
    pp, cp = n["providerPid"], n["consumerPid"]
    r = await provider.client.post(
        f"/dsp/negotiations/{pp}/events",
        json=pid_message("ContractNegotiationEventMessage", pp, cp, eventType="FINALIZED"),
    )
    assert r.status_code == 400
    offer = await offer_for(provider, "a")
    r = await provider.client.post(
        f"/dsp/negotiations/{pp}/offers",
        json=pid_message("ContractOfferMessage", pp, cp, offer=offer),
    )
    assert r.status_code == 400
    assert r.json()["code"] == "WRONG_ROLE"


async def test_mismatched_pids_are_refused(provider: Node) -> None:
    n = await open_negotiation(provider)
    pp = n["providerPid"]
    r = await provider.client.post(
        f"/dsp/negotiations/{pp}/termination",
        json=pid_message("ContractNegotiationTerminationMessage", pp, "urn:uuid:someone-else"),
    )
    assert r.status_code == 400
    r = await provider.client.post(
        f"/dsp/negotiations/{pp}/termination",
        json=pid_message(
            "ContractNegotiationTerminationMessage", "urn:uuid:other", n["consumerPid"]
        ),
    )
    assert r.status_code == 400
    assert (await provider.client.get(f"/dsp/negotiations/{pp}")).json()["state"] == "REQUESTED"


async def test_termination_and_duplicate_termination(provider: Node) -> None:
    n = await open_negotiation(provider)
    pp, cp = n["providerPid"], n["consumerPid"]
    msg = pid_message(
        "ContractNegotiationTerminationMessage", pp, cp, code="X", reason=["changed my mind"]
    )
    first = await provider.client.post(f"/dsp/negotiations/{pp}/termination", json=msg)
    assert first.status_code == 200
    again = await provider.client.post(f"/dsp/negotiations/{pp}/termination", json=msg)
    assert again.status_code == 200 and again.json() == first.json()
    with provider.connector.store.transaction() as tx:
        stored = tx.negotiations.get(pp)
        assert stored.state == "TERMINATED" and "changed my mind" in (stored.error_detail or "")
        assert tx.outbox.pending_for(pp) == []  # the queued agreement is withdrawn


async def test_bad_callback_address(provider: Node) -> None:
    body = contract_request("urn:uuid:c", await offer_for(provider, "a"), callback="ftp://x")
    r = await provider.client.post("/dsp/negotiations/request", json=body)
    assert r.status_code == 400 and r.json()["code"] == "UNRECOVERABLE"


async def test_transfer_request_for_unknown_agreement(provider: Node) -> None:
    body = {
        "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
        "@type": "TransferRequestMessage",
        "consumerPid": "urn:uuid:t",
        "agreementId": "urn:uuid:nope",
        "format": "HttpData-PULL",
        "callbackAddress": "http://consumer.test/dsp",
    }
    r = await provider.client.post("/dsp/transfers/request", json=body)
    assert r.status_code == 400
    validate(r.json(), "TransferError")
    body["format"] = "Carrier-Pigeon"
    r = await provider.client.post("/dsp/transfers/request", json=body)
    assert r.status_code == 400 and r.json()["code"] == "UNSUPPORTED_FORMAT"


async def test_every_sent_message_validates(provider: Node) -> None:
    await open_negotiation(provider)
    with provider.connector.store.transaction() as tx:
        items = tx.outbox.pending_for(tx.negotiations.list()[0].id)
    assert items and all(validate(i.payload) is None for i in items)
