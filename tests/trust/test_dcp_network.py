"""Two connectors that trust the same authority, every DSP call authenticated (DCP 1.0)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.connector.harness import Node
from tests.trust.space import dcp_space, did_of

from twinspace.clock import ManualClock

PROTOCOL = "dataspace-protocol-http:2025-1"
Json = dict[str, Any]


async def catalog(consumer: Node, provider: Node) -> httpx.Response:
    return await consumer.client.post(
        "/management/v3/catalog/request",
        json={
            "counterPartyAddress": provider.dsp,
            "counterPartyId": did_of(provider.name),
            "protocol": PROTOCOL,
        },
    )


async def wait_state(node: Node, path: str, state: str, clock: ManualClock | None = None) -> Json:
    import asyncio

    for _ in range(500):
        doc: Json = (await node.client.get(f"/management/v3/{path}")).json()
        if doc.get("state") == state:
            return doc
        if doc.get("state") == "TERMINATED":
            raise AssertionError(f"{path} terminated: {doc}")
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} never reached {state}: {doc}")


async def negotiate(consumer: Node, provider: Node, asset_id: str) -> Json:
    answer = await catalog(consumer, provider)
    assert answer.status_code == 200, answer.text
    listed = answer.json()
    dataset = next(d for d in listed["dataset"] if d["@id"] == asset_id)
    offer = {**dataset["hasPolicy"][0], "target": asset_id, "assigner": listed["participantId"]}
    created = await consumer.client.post(
        "/management/v3/contractnegotiations",
        json={"counterPartyAddress": provider.dsp, "protocol": PROTOCOL, "policy": offer},
    )
    assert created.status_code == 200, created.text
    return await wait_state(consumer, f"contractnegotiations/{created.json()['@id']}", "FINALIZED")


async def test_two_members_negotiate_and_transfer(tmp_path: Path) -> None:
    data = tmp_path / "counts.csv"
    data.write_text("sensor,count\nA1,42\n")
    async with dcp_space(tmp_path, ["city", "mobility"]) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        city.add_offer("counts", {"type": "File", "path": str(data)})

        listed = (await catalog(mobility, city)).json()
        assert listed["participantId"] == did_of("city")
        negotiation = await negotiate(mobility, city, "counts")
        agreement_id = negotiation["contractAgreementId"]
        with city.connector.store.transaction() as tx:
            agreement = tx.agreements.get(agreement_id)
            theirs = tx.negotiations.list()
        assert agreement.consumer_id == did_of("mobility")
        assert agreement.provider_id == did_of("city")
        assert [n.counter_party_id for n in theirs] == [did_of("mobility")]

        created = await mobility.client.post(
            "/management/v3/transferprocesses",
            json={
                "counterPartyAddress": city.dsp,
                "contractId": agreement_id,
                "transferType": "HttpData-PULL",
                "protocol": PROTOCOL,
            },
        )
        assert created.status_code == 200, created.text
        transfer_id = created.json()["@id"]
        await wait_state(mobility, f"transferprocesses/{transfer_id}", "STARTED")
        edr = (await mobility.client.get(f"/management/v3/edrs/{transfer_id}/dataaddress")).json()
        pulled = await space.shared.get(
            edr["endpoint"], headers={"Authorization": edr["authorization"]}
        )
        assert pulled.status_code == 200 and pulled.text == data.read_text()


async def test_each_participant_serves_its_wallet_and_the_auth_profile(tmp_path: Path) -> None:
    async with dcp_space(tmp_path, ["city"]) as space:
        city = space.nodes["city"]
        wallet = (await city.client.get("/management/v3/credentials")).json()
        assert wallet["did"] == did_of("city")
        assert wallet["authority"] == space.authority.did
        assert wallet["enrolment"]["state"] == "ok"
        assert sorted(c["type"] for c in wallet["credentials"]) == [
            "LegalParticipantCredential",
            "MembershipCredential",
        ]
        version = (await city.client.get("/.well-known/dspace-version")).json()
        [entry] = version["protocolVersions"]
        assert entry["auth"] == {"protocol": "DCP", "version": "1.0", "profile": ["vc20-bssl/jwt"]}
        assert entry["identifierType"] == "did:web"
        document = (await city.client.get("/city/did.json")).json()
        assert document["id"] == did_of("city")


async def test_a_catalog_request_needs_the_providers_did(tmp_path: Path) -> None:
    async with dcp_space(tmp_path, ["city", "mobility"]) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        answer = await mobility.client.post(
            "/management/v3/catalog/request",
            json={"counterPartyAddress": city.dsp, "protocol": PROTOCOL},
        )
        assert answer.status_code == 400
        assert "counterPartyId" in answer.text


async def test_a_participant_that_is_not_onboarded_is_told_why_and_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "twinspace.trust")
    async with dcp_space(tmp_path, ["city", "stranger"], onboard=["city"]) as space:
        city, stranger = space.nodes["city"], space.nodes["stranger"]
        asked = await stranger.client.post("/management/v3/credentials/request")
        assert asked.status_code == 502
        assert "not_onboarded" in asked.text
        wallet = (await stranger.client.get("/management/v3/credentials")).json()
        assert wallet["credentials"] == []
        assert wallet["enrolment"]["state"] == "failed"
        assert "not_onboarded" in wallet["enrolment"]["lastError"]

        refused = await catalog(stranger, city)
        assert refused.status_code == 502
        assert "404" in refused.text
        assert refusals(caplog) == ["not_member"]

        # onboarding later is enough: the connector asks again and is then accepted
        await space.authority.onboard(did_of("stranger"))
        assert (await stranger.client.post("/management/v3/credentials/request")).status_code == 200
        city.connector.trust.forget()  # type: ignore[union-attr]
        assert (await catalog(stranger, city)).status_code == 200


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The codes of the DSP calls refused so far (from the provider's log)."""
    return [
        r.getMessage().split(": ")[1]
        for r in caplog.records
        if r.name == "twinspace.trust" and r.getMessage().startswith("refused a DSP call")
    ]


async def test_a_revoked_member_is_refused_within_the_status_list_cache_lifetime(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "twinspace.trust")
    clock = ManualClock()
    async with dcp_space(
        tmp_path,
        ["city", "mobility"],
        clock=clock,
        status_list_cache_seconds=60,
        presentation_cache_seconds=60,
    ) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        assert (await catalog(mobility, city)).status_code == 200
        await space.authority.change(did_of("mobility"), "revoke")
        clock.advance(30)  # within the cache lifetime the cached status may still be used
        assert (await catalog(mobility, city)).status_code == 200
        assert refusals(caplog) == []
        clock.advance(31)  # the status list city holds has expired: the next call refetches it
        refused = await catalog(mobility, city)
        assert refused.status_code == 502, refused.text
        assert "404" in refused.text
        assert refusals(caplog) == ["revoked"]
        clock.advance(600)  # and it stays refused once the cached presentation is gone too
        assert (await catalog(mobility, city)).status_code == 502


async def test_a_suspended_member_is_refused_until_reinstated(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "twinspace.trust")
    clock = ManualClock()
    async with dcp_space(tmp_path, ["city", "mobility"], clock=clock) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        await space.authority.change(did_of("mobility"), "suspend")
        clock.advance(61)
        assert (await catalog(mobility, city)).status_code == 502
        assert refusals(caplog) == ["suspended"]
        await space.authority.change(did_of("mobility"), "reinstate")
        clock.advance(61)
        assert (await catalog(mobility, city)).status_code == 200


@pytest.mark.parametrize("mode", ["refuse", "stale"])
async def test_an_unreachable_authority_degrades_as_configured(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    caplog.set_level(logging.WARNING, "twinspace.trust")
    clock = ManualClock()
    async with dcp_space(
        tmp_path,
        ["city", "mobility"],
        clock=clock,
        on_authority_unreachable=mode,
        stale_grace_seconds=300,
    ) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        assert (await catalog(mobility, city)).status_code == 200
        space.router.apps.pop("authority.test")  # the authority is down
        clock.advance(120)  # the status list and the authority's DID document have expired
        answer = await catalog(mobility, city)
        if mode == "refuse":
            assert answer.status_code == 502
            assert refusals(caplog) == ["unresolved"]
        else:  # the expired copies serve for the grace period, with a warning each time
            assert answer.status_code == 200, answer.text
            assert any("stale" in r.getMessage() for r in caplog.records)
            clock.advance(400)  # grace is over
            assert (await catalog(mobility, city)).status_code == 502
            assert refusals(caplog) == ["unresolved"]
