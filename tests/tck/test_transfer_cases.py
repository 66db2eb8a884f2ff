"""Every transfer process case of the TCK (TP provider, TP_C consumer), walked by a fake TCK."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.tck.util import Conversation, bench

from twinspace.protocol import messages as m
from twinspace.tck import scripts

#: The TCK as consumer, the CUT as provider; agreement ATPxxyy.
PROVIDER_CASES = {
    "TP:01-01": "request; expect Start; expect Termination; state TERMINATED",
    "TP:01-02": "request; expect Start; expect Completion; state COMPLETED",
    "TP:01-03": "request; expect Start; expect Suspension; expect Termination; state TERMINATED",
    "TP:01-04": "request; expect Start; expect Suspension; expect Start; expect Completion; "
    "state COMPLETED",
    "TP:01-05": "request; expect Termination; state TERMINATED",
    "TP:02-01": "request; expect Start; state STARTED; send terminate; state TERMINATED",
    "TP:02-02": "request; expect Start; state STARTED; send complete; state COMPLETED",
    "TP:02-03": "request; expect Start; send suspend; state SUSPENDED; send terminate; "
    "state TERMINATED",
    "TP:02-04": "request; expect Start; send suspend; state SUSPENDED; send start; "
    "state STARTED; send complete; state COMPLETED",
    "TP:02-05": "request; state REQUESTED; send terminate; state TERMINATED",
    "TP:03-01": "request; state REQUESTED; refused complete; state REQUESTED",
    "TP:03-02": "request; state REQUESTED; refused suspend; state REQUESTED",
    "TP:03-03": "request; expect Start; state STARTED; send suspend; state SUSPENDED; "
    "refused complete; state SUSPENDED",
    "TP:03-04": "request; expect Start; state STARTED; send terminate; state TERMINATED; "
    "refused start; state TERMINATED",
    "TP:03-05": "request; expect Start; state STARTED; send terminate; state TERMINATED; "
    "refused suspend; state TERMINATED",
    "TP:03-06": "request; expect Start; state STARTED; send terminate; state TERMINATED; "
    "refused complete; state TERMINATED",
}

#: The TCK as provider, the CUT as consumer started through the trigger; agreement ATPCxxyy.
CONSUMER_CASES = {
    "TP_C:01-01": "trigger; send start; state STARTED; send terminate; state TERMINATED",
    "TP_C:01-02": "trigger; send start; state STARTED; send complete; state COMPLETED",
    "TP_C:01-03": "trigger; send start; send suspend; state SUSPENDED; send terminate; "
    "state TERMINATED",
    "TP_C:01-04": "trigger; send start; send suspend; send start; state STARTED; "
    "send complete; state COMPLETED",
    "TP_C:01-05": "trigger; state REQUESTED; send terminate; state TERMINATED",
    "TP_C:02-01": "trigger; send start; expect Termination; state TERMINATED",
    "TP_C:02-02": "trigger; send start; expect Completion; state COMPLETED",
    "TP_C:02-03": "trigger; send start; expect Suspension; expect Termination; state TERMINATED",
    "TP_C:02-04": "trigger; send start; expect Suspension; expect Start; expect Completion; "
    "state COMPLETED",
    "TP_C:02-05": "trigger; expect Termination; state TERMINATED",
    "TP_C:03-01": "trigger; state REQUESTED; refused complete; state REQUESTED",
    "TP_C:03-02": "trigger; state REQUESTED; refused suspend; state REQUESTED",
    "TP_C:03-03": "trigger; send start; send suspend; state SUSPENDED; refused complete; "
    "state SUSPENDED",
    "TP_C:03-04": "trigger; send start; send terminate; state TERMINATED; refused start; "
    "state TERMINATED",
    "TP_C:03-05": "trigger; send start; send terminate; state TERMINATED; refused suspend; "
    "state TERMINATED",
    "TP_C:03-06": "trigger; send start; send terminate; state TERMINATED; refused complete; "
    "state TERMINATED",
}

AGREEMENT = {s.case: s.key for s in scripts.TRANSFERS.values()}


def test_every_transfer_case_has_a_script_and_a_walk() -> None:
    assert set(AGREEMENT) == set(PROVIDER_CASES) | set(CONSUMER_CASES)
    assert len(PROVIDER_CASES) == 16 and len(CONSUMER_CASES) == 16


@pytest.mark.parametrize("case", sorted(PROVIDER_CASES))
async def test_provider_case(tmp_path: Path, case: str) -> None:
    async with bench(tmp_path) as b:
        talk = Conversation(b, "transfers", AGREEMENT[case])
        await talk.run(PROVIDER_CASES[case])
        await talk.nothing_more()


@pytest.mark.parametrize("case", sorted(CONSUMER_CASES))
async def test_consumer_case(tmp_path: Path, case: str) -> None:
    async with bench(tmp_path) as b:
        talk = Conversation(b, "transfers", AGREEMENT[case])
        await talk.run(CONSUMER_CASES[case])
        await talk.nothing_more()


async def test_scripted_starts_carry_a_pull_address_each_time(tmp_path: Path) -> None:
    """TP:01-04 starts twice; each start message carries a usable data address."""
    async with bench(tmp_path) as b:
        talk = Conversation(b, "transfers", "ATP0104")
        await talk.run(PROVIDER_CASES["TP:01-04"])
        starts = [r.body for r in b.tck.received if r.label == "Start"]
        assert len(starts) == 2
        for start in starts:
            props = m.endpoint_properties(start["dataAddress"])
            assert start["dataAddress"]["endpoint"] == "http://cut.test/public/data"
            assert props["authType"] == "bearer" and props["authorization"]
        first, second = (m.endpoint_properties(s["dataAddress"]) for s in starts)
        assert first["authorization"] != second["authorization"]


async def test_scripted_messages_wait_for_the_step_delay(tmp_path: Path) -> None:
    """With the default delay the scripted start is queued ahead, not sent at once."""
    async with bench(tmp_path) as b:
        from twinspace.tck import Strategy

        c = b.connector
        c.ctx.script = Strategy(c.negotiations, c.transfers, step_delay=60)
        talk = Conversation(b, "transfers", "ATP0101")
        await talk.run("request; state REQUESTED")
        with c.store.transaction() as tx:
            t = tx.transfers.by_pid("PROVIDER", provider_pid=talk.provider_pid)
            item = tx.outbox.latest_for(t.id)
        assert item is not None and item.message_type == "TransferStartMessage"
        assert (item.next_attempt_at - item.created_at).total_seconds() == 60
        await talk.nothing_more(settle=0.1)
