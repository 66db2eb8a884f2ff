"""The consumer's whole journey, driven only through the management APIs of two connectors."""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.connector.harness import network
from tests.management.util import (
    PROTOCOL,
    edc_error,
    get,
    negotiate,
    ok,
    poll,
    post,
    publish,
    start_pull,
    wait_state,
)


async def test_catalog_negotiate_transfer_pull(tmp_path: Path) -> None:
    data = tmp_path / "counts.csv"
    data.write_text("a,b\n1,2\n")
    async with network(tmp_path, ["provider", "consumer"]) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        await publish(p, "counts", data)

        catalog = ok(
            await post(c, "/catalog/request", {"counterPartyAddress": p.dsp, "protocol": PROTOCOL})
        )
        assert catalog["@type"] == "Catalog"
        assert catalog["participantId"] == "urn:twinspace:provider"
        assert [d["@id"] for d in catalog["dataset"]] == ["counts"]
        offer = {**catalog["dataset"][0]["hasPolicy"][0], "target": "counts"}

        created = ok(
            await post(
                c,
                "/contractnegotiations",
                {
                    "counterPartyAddress": p.dsp,
                    "counterPartyId": catalog["participantId"],
                    "protocol": PROTOCOL,
                    "policy": offer,
                },
            )
        )
        assert set(created) >= {"@id", "createdAt"} and isinstance(created["createdAt"], int)
        nid = created["@id"]
        final = await wait_state(c, f"/contractnegotiations/{nid}", "FINALIZED")
        assert final["@type"] == "ContractNegotiation"
        assert final["type"] == "CONSUMER"
        assert final["protocol"] == PROTOCOL
        assert final["counterPartyAddress"] == p.dsp
        assert final["counterPartyId"] == "urn:twinspace:provider"
        assert final["correlationId"]  # the provider's pid
        assert final["assetId"] == "counts"
        assert final["@context"] == {"@vocab": "https://w3id.org/edc/v0.0.1/ns/"}
        assert final["pendingMessage"]["status"] == "SENT"
        state = ok(await get(c, f"/contractnegotiations/{nid}/state"))
        assert state == {
            "@context": {"@vocab": "https://w3id.org/edc/v0.0.1/ns/"},
            "@type": "NegotiationState",
            "state": "FINALIZED",
        }

        agreement_id = final["contractAgreementId"]
        agreement = ok(await get(c, f"/contractnegotiations/{nid}/agreement"))
        assert agreement["@type"] == "ContractAgreement"
        assert agreement["@id"] == agreement_id
        assert agreement["assetId"] == "counts"
        assert agreement["providerId"] == "urn:twinspace:provider"
        assert agreement["consumerId"] == "urn:twinspace:consumer"
        assert agreement["policy"]["permission"] == [{"action": "use"}]
        assert ok(await get(c, f"/contractagreements/{agreement_id}")) == agreement
        assert ok(await get(c, f"/contractagreements/{agreement_id}/negotiation"))["@id"] == nid
        listed = ok(await post(c, "/contractagreements/request", {}))
        assert [a["@id"] for a in listed] == [agreement_id]
        # the provider sees its side of the same negotiation and agreement
        provider_side = ok(
            await post(
                p,
                "/contractnegotiations/request",
                {"filterExpression": [{"operandLeft": "correlationId", "operandRight": nid}]},
            )
        )
        assert [n["type"] for n in provider_side] == ["PROVIDER"]
        await wait_state(p, f"/contractnegotiations/{provider_side[0]['@id']}", "FINALIZED")

        started = await start_pull(c, p, agreement_id)
        tid = started["@id"]
        assert started["@type"] == "TransferProcess"
        assert started["type"] == "CONSUMER"
        assert started["contractId"] == agreement_id
        assert started["assetId"] == "counts"
        assert started["transferType"] == "HttpData-PULL"
        assert started["correlationId"]
        assert ok(await get(c, f"/transferprocesses/{tid}/state"))["@type"] == "TransferState"

        edr = ok(await get(c, f"/edrs/{tid}/dataaddress"))
        assert edr["@type"] == "DataAddress"
        assert edr["type"] == "https://w3id.org/idsa/v4.1/HTTP"
        assert edr["endpoint"] == "http://provider.test/public/data"
        assert edr["authType"] == "bearer"
        assert {"authorization", "refreshToken", "refreshEndpoint", "expiresIn"} <= set(edr)
        entries = ok(await post(c, "/edrs/request"))
        assert [e["transferProcessId"] for e in entries] == [tid]

        pulled = await p.client.get(
            edr["endpoint"], headers={"Authorization": f"Bearer {edr['authorization']}"}
        )
        assert pulled.status_code == 200, pulled.text
        assert pulled.text == "a,b\n1,2\n"

        # suspend -> resume -> complete, each seen by both sides
        ok(await post(c, f"/transferprocesses/{tid}/suspend", {"reason": "lunch"}), 204)
        await wait_state(c, f"/transferprocesses/{tid}", "SUSPENDED")
        ok(await post(c, f"/transferprocesses/{tid}/resume"), 204)
        await wait_state(c, f"/transferprocesses/{tid}", "STARTED")
        ok(await post(c, f"/transferprocesses/{tid}/complete"), 204)
        await wait_state(c, f"/transferprocesses/{tid}", "COMPLETED")
        theirs = ok(
            await post(
                p,
                "/transferprocesses/request",
                {"filterExpression": [{"operandLeft": "correlationId", "operandRight": tid}]},
            )
        )
        await wait_state(p, f"/transferprocesses/{theirs[0]['@id']}", "COMPLETED")
        # a completed transfer cannot be suspended
        edc_error(await post(c, f"/transferprocesses/{tid}/suspend", {}), 409, "COMPLETED")

        # a second transfer, terminated by the consumer with a reason
        second = await start_pull(c, p, agreement_id)
        path = f"/transferprocesses/{second['@id']}"
        ok(await post(c, path + "/terminate", {"reason": "not needed"}), 204)
        await wait_state(c, path, "TERMINATED")
        theirs = ok(
            await post(
                p,
                "/transferprocesses/request",
                {
                    "filterExpression": [
                        {"operandLeft": "correlationId", "operandRight": second["@id"]}
                    ]
                },
            )
        )
        ended = await wait_state(p, f"/transferprocesses/{theirs[0]['@id']}", "TERMINATED")
        assert "not needed" in ended["errorDetail"]


async def test_provider_terminates_a_transfer(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("x\n")
    async with network(tmp_path, ["provider", "consumer"]) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        await publish(p, "d", data)
        final = await negotiate(c, p, "d")
        started = await start_pull(c, p, final["contractAgreementId"])
        theirs = ok(await post(p, "/transferprocesses/request", {}))
        assert [t["correlationId"] for t in theirs] == [started["@id"]]
        ok(
            await post(p, f"/transferprocesses/{theirs[0]['@id']}/terminate", {"reason": "bye"}),
            204,
        )
        done = await wait_state(c, f"/transferprocesses/{started['@id']}", "TERMINATED")
        assert "bye" in done["errorDetail"]
        # its token no longer opens the data
        edr = ok(await get(c, f"/edrs/{started['@id']}/dataaddress"))
        refused = await p.client.get(
            edr["endpoint"], headers={"Authorization": f"Bearer {edr['authorization']}"}
        )
        assert refused.status_code in (401, 403)


async def test_negotiation_terminated_by_consumer(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("x\n")
    async with network(tmp_path, ["provider", "consumer"]) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        await publish(p, "d", data)
        final = await negotiate(c, p, "d")
        path = f"/contractnegotiations/{final['@id']}"
        # FINALIZED is final: nothing left to terminate
        edc_error(await post(c, path + "/terminate", {"reason": "x"}), 409, "FINALIZED")


async def test_unreachable_provider_shows_retries(tmp_path: Path) -> None:
    """Nothing hangs silently: attempts, last error and next retry are visible; terminate ends it."""
    async with network(tmp_path, ["consumer"], backoff_base=30.0) as nodes:
        c = nodes["consumer"]
        created = ok(
            await post(
                c,
                "/contractnegotiations",
                {
                    "counterPartyAddress": "http://nowhere.test/dsp",
                    "policy": {
                        "@id": "offer-1",
                        "@type": "Offer",
                        "target": "asset-1",
                        "permission": [{"action": "use"}],
                    },
                },
            )
        )
        path = f"/contractnegotiations/{created['@id']}"
        doc = await poll(c, path, until=lambda d: (d["pendingMessage"] or {}).get("lastError"))
        pending = doc["pendingMessage"]
        assert doc["state"] == "INITIAL"
        assert pending["attempts"] >= 1
        assert pending["type"] == "ContractRequestMessage"
        assert pending["status"] == "PENDING"
        assert "nowhere.test" in pending["lastError"]
        assert pending["nextRetryAt"] > doc["createdAt"]
        # the user gives up: the request was never acknowledged, so it ends here at once
        ok(await post(c, path + "/terminate", {"reason": "wrong address"}), 204)
        done = ok(await get(c, path))
        assert done["state"] == "TERMINATED"
        assert "wrong address" in done["errorDetail"]
        assert done["pendingMessage"]["status"] == "FAILED"


async def test_unreachable_provider_terminates_after_max_attempts(tmp_path: Path) -> None:
    async with network(tmp_path, ["consumer"], max_attempts=3) as nodes:
        c = nodes["consumer"]
        created = ok(
            await post(
                c,
                "/contractnegotiations",
                {
                    "counterPartyAddress": "http://nowhere.test/dsp",
                    "policy": {"@id": "o", "target": "a", "permission": [{"action": "use"}]},
                },
            )
        )
        done = await wait_state(c, f"/contractnegotiations/{created['@id']}", "TERMINATED")
        assert "after 3 attempts" in done["errorDetail"]
        assert "nowhere.test" in done["errorDetail"]
        assert done["pendingMessage"]["attempts"] == 3
        assert done["pendingMessage"]["status"] == "FAILED"
        assert done["pendingMessage"]["nextRetryAt"] is None


async def test_catalog_of_unreachable_or_failing_counter_party(tmp_path: Path) -> None:
    async with network(tmp_path, ["provider", "consumer"]) as nodes:
        c, p = nodes["consumer"], nodes["provider"]
        message = edc_error(
            await post(c, "/catalog/request", {"counterPartyAddress": "http://nowhere.test/dsp"}),
            502,
            "could not reach",
        )
        assert "nowhere.test" in message
        # a DSP error from the counter-party: its reason is passed on
        edc_error(
            await post(
                c, "/catalog/dataset/request", {"@id": "missing", "counterPartyAddress": p.dsp}
            ),
            502,
            "HTTP 404",
            "not found",
        )


async def test_dataset_request_and_catalog_query(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("x\n")
    async with network(tmp_path, ["provider", "consumer"]) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        for name in ("alpha", "beta", "gamma"):
            await publish(p, name, data)
        dataset = ok(
            await post(c, "/catalog/dataset/request", {"@id": "beta", "counterPartyAddress": p.dsp})
        )
        assert dataset["@id"] == "beta" and dataset["@type"] == "Dataset"
        catalog = ok(
            await post(
                c,
                "/catalog/request",
                {
                    "counterPartyAddress": p.dsp,
                    "querySpec": {"sortField": "id", "sortOrder": "DESC", "limit": 2},
                },
            )
        )
        assert [d["@id"] for d in catalog["dataset"]] == ["gamma", "beta"]


async def test_timeout_is_a_bad_gateway(tmp_path: Path) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("took too long", request=request)

    async with network(tmp_path, ["consumer"]) as nodes:
        c = nodes["consumer"]
        c.connector.http = httpx.AsyncClient(transport=httpx.MockTransport(slow))
        try:
            edc_error(
                await post(c, "/catalog/request", {"counterPartyAddress": "http://slow.test/dsp"}),
                502,
                "did not answer",
            )
        finally:
            await c.connector.http.aclose()
