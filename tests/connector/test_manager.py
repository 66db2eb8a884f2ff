"""The outbound manager, stepped by hand: retries, backoff, give-up, implicit acknowledgement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.connector.harness import Node, network

from twinspace.clock import ManualClock
from twinspace.store import FAILED, SENT

pytestmark = pytest.mark.asyncio


async def offer(node: Node, dataset: str) -> dict[str, Any]:
    r = await node.client.get(f"/dsp/catalog/datasets/{dataset}")
    return {**r.json()["hasPolicy"][0], "target": dataset}


async def test_unreachable_counterparty_retries_with_backoff_then_terminates(
    tmp_path: Path,
) -> None:
    clock = ManualClock()
    async with network(
        tmp_path, ["consumer"], clock=clock, run_managers=False, max_attempts=3, backoff_base=1.0
    ) as nodes:
        c = nodes["consumer"].connector
        o = {"@id": "x:y", "@type": "Offer", "target": "d", "permission": [{"action": "use"}]}
        n = c.negotiations.initiate(counter_party_address="http://nowhere.test/dsp", offer=o)
        assert await c.manager.run_once() == 1
        with c.store.transaction() as tx:
            item = tx.outbox.latest_for(n.id)
            assert item is not None
            assert item.attempts == 1 and "nowhere.test" in (item.last_error or "")
            assert item.next_attempt_at == clock.now().replace() + __import__("datetime").timedelta(
                seconds=1
            )
        assert await c.manager.run_once() == 0  # not due yet
        clock.advance(1)
        assert await c.manager.run_once() == 1
        with c.store.transaction() as tx:
            item = tx.outbox.latest_for(n.id)
            assert item is not None and item.attempts == 2
            assert (item.next_attempt_at - clock.now()).total_seconds() == 2  # doubled
        clock.advance(2)
        assert await c.manager.run_once() == 1
        with c.store.transaction() as tx:
            stored = tx.negotiations.get(n.id)
            assert stored.state == "TERMINATED"
            assert "gave up delivering ContractRequestMessage after 3 attempts" in (
                stored.error_detail or ""
            )
            assert tx.outbox.latest_for(n.id).status == FAILED  # type: ignore[union-attr]


async def test_counterparty_message_implicitly_acknowledges_ours(tmp_path: Path) -> None:
    """The provider's agreement is delivered but its ACK not yet processed when the verification arrives."""
    async with network(tmp_path, ["provider", "consumer"], run_managers=False) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        p.add_offer("d", {"type": "File", "path": str(tmp_path / "d")})
        n = c.connector.negotiations.initiate(
            counter_party_address=p.dsp, offer=await offer(p, "d")
        )
        await (
            c.connector.manager.run_once()
        )  # request delivered: provider REQUESTED, agreement queued
        claimed = p.connector.manager._claim(10)  # provider leases its agreement ...
        assert [i.message_type for i in claimed] == ["ContractAgreementMessage"]
        agreement_item = claimed[0]
        delivery = await p.connector.manager.dispatcher.send(
            agreement_item.url, agreement_item.payload, agreement_item.audience
        )
        assert delivery.ok  # ... the consumer got it and queued its verification ...
        await (
            c.connector.manager.run_once()
        )  # ... which reaches the provider before the ACK is applied
        with p.connector.store.transaction() as tx:
            pn = tx.negotiations.by_pid("PROVIDER", consumer_pid=n.id)
            assert pn.state == "VERIFIED"
            assert tx.outbox.get(agreement_item.id).status == SENT
            assert tx.agreements.count() == 1
        p.connector.manager._acknowledged(agreement_item, delivery)  # the late ACK changes nothing
        with p.connector.store.transaction() as tx:
            assert tx.negotiations.get(pn.id).state == "VERIFIED"
            assert tx.agreements.count() == 1
        await p.connector.manager.drain()
        await c.connector.manager.drain()
        with c.connector.store.transaction() as tx:
            assert tx.negotiations.get(n.id).state == "FINALIZED"


async def test_lease_prevents_a_second_worker_from_sending(tmp_path: Path) -> None:
    async with network(tmp_path, ["consumer"], run_managers=False) as nodes:
        c = nodes["consumer"].connector
        o = {"@id": "x:y", "@type": "Offer", "target": "d", "permission": [{"action": "use"}]}
        c.negotiations.initiate(counter_party_address="http://nowhere.test/dsp", offer=o)
        first = c.manager._claim(10)
        assert len(first) == 1
        assert c.manager._claim(10) == []


async def test_refused_initial_request_terminates_at_once(tmp_path: Path) -> None:
    """A provider's 4xx to an initial request is final: no retries, the reason is kept."""
    async with network(
        tmp_path, ["provider", "consumer"], run_managers=False, max_attempts=8
    ) as nodes:
        p, c = nodes["provider"], nodes["consumer"]
        p.add_offer("d", {"type": "File", "path": str(tmp_path / "d")})
        changed = {**(await offer(p, "d")), "permission": [{"action": "distribute"}]}
        n = c.connector.negotiations.initiate(counter_party_address=p.dsp, offer=changed)
        assert await c.connector.manager.run_once() == 1
        with c.connector.store.transaction() as tx:
            stored = tx.negotiations.get(n.id)
            item = tx.outbox.latest_for(n.id)
        assert stored.state == "TERMINATED"
        assert "refused by the counter-party" in (stored.error_detail or "")
        assert "differs from the provider's offer" in (stored.error_detail or "")
        assert item is not None and item.attempts == 1 and item.status == FAILED
