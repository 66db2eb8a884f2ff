"""Negotiations and transfers through the management API: EDC JSON-LD bodies, push, queries."""

from __future__ import annotations

from pathlib import Path

from tests.connector.harness import network
from tests.management.util import (
    PROTOCOL,
    edc_error,
    get,
    negotiate,
    offer_for,
    ok,
    post,
    publish,
    wait_state,
)

EDC = "https://w3id.org/edc/v0.0.1/ns/"


async def test_negotiation_in_edc_json_ld_form(tmp_path: Path) -> None:
    """The body an EDC client library sends: namespaced type, odrl prefixes, single rule objects."""
    data = tmp_path / "d.csv"
    data.write_text("x\n")
    async with network(tmp_path, ["provider", "consumer"]) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        await publish(p, "d", data)
        catalog, offer = await offer_for(c, p, "d")
        body = {
            "@context": {"@vocab": EDC, "odrl": "http://www.w3.org/ns/odrl/2/"},
            "@type": EDC + "ContractRequest",
            "edc:counterPartyAddress": p.dsp,
            "protocol": PROTOCOL,
            "policy": {
                "@context": "http://www.w3.org/ns/odrl.jsonld",
                "@type": "odrl:Offer",
                "@id": offer["@id"],
                "odrl:assigner": {"@id": catalog["participantId"]},
                "odrl:target": {"@id": "d"},
                "odrl:permission": {"odrl:action": {"@id": "odrl:use"}},
                "odrl:prohibition": [],
                "odrl:obligation": [],
            },
            "callbackAddresses": [],
        }
        created = ok(await post(c, "/contractnegotiations", body))
        final = await wait_state(c, f"/contractnegotiations/{created['@id']}", "FINALIZED")
        assert final["counterPartyId"] == catalog["participantId"]  # from the offer's assigner
        assert final["assetId"] == "d"


async def test_offer_that_differs_is_terminated_by_the_provider(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("x\n")
    async with network(tmp_path, ["provider", "consumer"], max_attempts=2) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        await publish(p, "d", data)
        _catalog, offer = await offer_for(c, p, "d")
        offer["permission"] = [{"action": "distribute"}]
        created = ok(
            await post(c, "/contractnegotiations", {"counterPartyAddress": p.dsp, "policy": offer})
        )
        done = await wait_state(c, f"/contractnegotiations/{created['@id']}", "TERMINATED")
        assert "differs from the provider's offer" in done["errorDetail"]
        assert done["pendingMessage"]["status"] == "FAILED"
        edc_error(await get(c, f"/contractnegotiations/{created['@id']}/agreement"), 404)


async def test_push_transfer(tmp_path: Path) -> None:
    data = tmp_path / "twin.bin"
    data.write_bytes(b"0123456789" * 100)
    async with network(tmp_path, ["provider", "consumer"]) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        await publish(p, "twin", data)
        final = await negotiate(c, p, "twin")
        created = ok(
            await post(
                c,
                "/transferprocesses",
                {"contractId": final["contractAgreementId"], "transferType": "HttpData-PUSH"},
            )
        )  # counterPartyAddress defaults to the negotiation's
        done = await wait_state(c, f"/transferprocesses/{created['@id']}", "COMPLETED")
        assert done["bytesTransferred"] == 1000
        assert done["counterPartyAddress"] == p.dsp
        assert done["dataDestination"]["endpoint"] == (
            f"http://consumer.test/public/push/{created['@id']}"
        )
        assert done["dataDestination"]["type"] == "https://w3id.org/idsa/v4.1/HTTP"
        # a push transfer has no EDR
        edc_error(await get(c, f"/edrs/{created['@id']}/dataaddress"), 404, "no EDR")


async def test_push_destination_must_be_http(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("x\n")
    async with network(tmp_path, ["provider", "consumer"]) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        await publish(p, "d", data)
        final = await negotiate(c, p, "d")
        body = {
            "contractId": final["contractAgreementId"],
            "transferType": "HttpData-PUSH",
            "dataDestination": {"type": "HttpData", "baseUrl": "ftp://sink"},
        }
        edc_error(await post(c, "/transferprocesses", body), 400, "http(s) endpoint")
        # the provider cannot start transfers under its own agreements
        edc_error(
            await post(
                p,
                "/transferprocesses",
                {
                    "counterPartyAddress": c.dsp,
                    "contractId": final["contractAgreementId"],
                    "transferType": "HttpData-PULL",
                },
            ),
            400,
            "as provider",
        )


async def test_process_queries(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("x\n")
    async with network(tmp_path, ["provider", "consumer"], backoff_base=30.0) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        await publish(p, "d", data)
        good = await negotiate(c, p, "d")
        stuck = ok(
            await post(
                c,
                "/contractnegotiations",
                {
                    "counterPartyAddress": "http://nowhere.test/dsp",
                    "policy": {"@id": "o", "target": "x", "permission": [{"action": "use"}]},
                },
            )
        )

        async def ids(spec: dict[str, object]) -> list[str]:
            return [n["@id"] for n in ok(await post(c, "/contractnegotiations/request", spec))]

        assert await ids({"sortField": "createdAt"}) == [good["@id"], stuck["@id"]]
        assert await ids({"sortField": "createdAt", "sortOrder": "DESC"}) == [
            stuck["@id"],
            good["@id"],
        ]
        assert await ids(
            {
                "filterExpression": [
                    {"operandLeft": "state", "operator": "=", "operandRight": "FINALIZED"}
                ]
            }
        ) == [good["@id"]]
        assert await ids(
            {
                "filterExpression": [
                    {
                        "operandLeft": "pendingMessage.status",
                        "operator": "=",
                        "operandRight": "PENDING",
                    }
                ]
            }
        ) == [stuck["@id"]]
        assert await ids(
            {
                "filterExpression": [
                    {
                        "operandLeft": "counterPartyAddress",
                        "operator": "like",
                        "operandRight": "%nowhere%",
                    }
                ]
            }
        ) == [stuck["@id"]]
        assert await ids({"offset": 1, "limit": 1, "sortField": "createdAt"}) == [stuck["@id"]]
        agreements = ok(
            await post(
                c,
                "/contractagreements/request",
                {"filterExpression": [{"operandLeft": "assetId", "operandRight": "d"}]},
            )
        )
        assert [a["@id"] for a in agreements] == [good["contractAgreementId"]]
        transfers = ok(await post(c, "/transferprocesses/request"))
        assert transfers == []
