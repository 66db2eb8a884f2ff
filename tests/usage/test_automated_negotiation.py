"""Automated negotiation from the consumer's acceptance profile, between two DCP connectors."""

from __future__ import annotations

from pathlib import Path

from tests.connector.harness import Node
from tests.trust.space import did_of

from twinspace.clock import ManualClock

from .util import (
    PROTOCOL,
    TP,
    USE,
    Json,
    c,
    data_file,
    eventually,
    negotiate,
    offer,
    permit,
    policy,
    usage_space,
    wait_state,
)

#: What city offers, and what mobility agrees to without a person.
PLANNING = policy(permit(c(TP + "country", "eq", "DE"), c("purpose", "eq", "traffic-planning")))


async def add_rule(node: Node, rule_id: str, rules: Json) -> Json:
    created = await node.client.post(
        "/management/v3/acceptancerules", json={"@id": rule_id, "policy": rules}
    )
    assert created.status_code == 200, created.text
    body: Json = created.json()
    return body


async def automatic(consumer: Node, provider: Node, asset_id: str) -> tuple[int, Json]:
    answer = await consumer.client.post(
        "/management/v3/contractnegotiations/automatic",
        json={
            "counterPartyAddress": provider.dsp,
            "counterPartyId": did_of(provider.name),
            "assetId": asset_id,
            "protocol": PROTOCOL,
        },
    )
    body: Json = answer.json()
    return answer.status_code, body


def provider_negotiations(provider: Node) -> list[tuple[str, str | None]]:
    with provider.connector.store.transaction() as tx:
        return [(n.state, n.error_detail) for n in tx.negotiations.list()]


async def test_an_offer_in_the_profile_is_agreed_without_a_person(tmp_path: Path) -> None:
    clock = ManualClock()
    async with usage_space(tmp_path, ["city", "mobility"], clock) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        offer(city, "counts", data_file(tmp_path), PLANNING)
        offer(city, "other", data_file(tmp_path), USE)
        await add_rule(mobility, "planning", PLANNING)
        listed = (await mobility.client.get("/management/v3/acceptancerules")).json()
        assert [r["@id"] for r in listed] == ["planning"]

        status, started = await automatic(mobility, city, "counts")
        assert status == 200, started
        assert started["counterOffer"] is False and started["acceptedOffer"]
        done = await wait_state(mobility, f"contractnegotiations/{started['@id']}", "FINALIZED")
        agreement_id = done["contractAgreementId"]
        with mobility.connector.store.transaction() as tx:
            agreed = tx.agreements.get(agreement_id).policy
        assert agreed["permission"] == PLANNING["permission"]
        assert agreed["assignee"] == did_of("mobility")
        await eventually(lambda: provider_negotiations(city) == [("FINALIZED", None)])


async def test_an_agreement_outside_the_profile_is_terminated_by_the_consumer(
    tmp_path: Path,
) -> None:
    """With a profile, the consumer verifies only agreements it accepts: one negotiated by hand
    for another policy is terminated (NOT_ACCEPTABLE) when it arrives."""
    clock = ManualClock()
    async with usage_space(tmp_path, ["city", "mobility"], clock) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        offer(city, "counts", data_file(tmp_path), USE)
        await add_rule(mobility, "planning", PLANNING)

        refused = await negotiate(mobility, city, "counts", "TERMINATED")
        assert refused["errorDetail"] == "the agreement's policy is not in the acceptance profile"
        assert refused["contractAgreementId"]  # the agreement did arrive

        def provider_saw_it() -> bool:
            [(state, detail)] = provider_negotiations(city)
            return state == "TERMINATED" and "NOT_ACCEPTABLE" in (detail or "")

        await eventually(provider_saw_it)
        [(_, detail)] = provider_negotiations(city)
        assert "not in the acceptance profile" in (detail or "")


async def test_without_an_acceptable_offer_a_counter_offer_is_sent_and_refused(
    tmp_path: Path,
) -> None:
    """No offer of city's is in mobility's profile: mobility counter-offers its rule; city's
    offers are fixed, so the counter-offer is refused outright (DSP 400 OFFER_MISMATCH to the
    request; no negotiation is opened there) and the consumer's negotiation ends with the reason."""
    clock = ManualClock()
    async with usage_space(tmp_path, ["city", "mobility"], clock) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        offer(city, "counts", data_file(tmp_path), USE)
        await add_rule(mobility, "planning", PLANNING)

        status, started = await automatic(mobility, city, "counts")
        assert status == 200, started
        assert started["counterOffer"] is True and started["acceptedOffer"] is None
        path = f"contractnegotiations/{started['@id']}"
        ended = await wait_state(mobility, path, "TERMINATED")
        assert "refused by the counter-party: HTTP 400" in ended["errorDetail"]
        assert "differs from the provider's offer" in ended["errorDetail"]
        with mobility.connector.store.transaction() as tx:
            sent = tx.negotiations.get(started["@id"]).offer or {}
        assert sent["permission"] == PLANNING["permission"]  # the counter-offer was the rule
        assert provider_negotiations(city) == []  # refused outright: nothing agreed there


async def test_no_profile_no_automatic_negotiation(tmp_path: Path) -> None:
    clock = ManualClock()
    async with usage_space(tmp_path, ["city", "mobility"], clock) as space:
        city, mobility = space.nodes["city"], space.nodes["mobility"]
        offer(city, "counts", data_file(tmp_path), PLANNING)
        status, body = await automatic(mobility, city, "counts")
        assert status == 409, body
        assert "no acceptance rules" in str(body)

        await add_rule(mobility, "planning", PLANNING)
        again = await mobility.client.post(
            "/management/v3/acceptancerules", json={"@id": "planning", "policy": PLANNING}
        )
        assert again.status_code == 409
        deleted = await mobility.client.delete("/management/v3/acceptancerules/planning")
        assert deleted.status_code == 204
        status, body = await automatic(mobility, city, "counts")
        assert status == 409, body
        assert provider_negotiations(city) == []
