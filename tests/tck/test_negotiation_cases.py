"""Every contract negotiation case of the TCK (CN provider, CN_C consumer), walked by a fake TCK.

Each case is the TCK's sequence diagram: the messages the TCK sends, the ones it expects back
(in order, and nothing else), the refusals it expects, and the state it then reads from the CUT.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.tck.util import Conversation, bench

from twinspace.tck import scripts

#: The TCK as consumer, the CUT as provider; dataset ACNxxyy.
PROVIDER_CASES = {
    "CN:01-01": "request; expect Offer; state OFFERED; send terminate; state TERMINATED",
    "CN:01-02": "request; expect Offer; send counter; expect Termination; state TERMINATED",
    "CN:01-03": "request; expect Offer; send accept; expect Agreement; send verify; "
    "expect FINALIZED; state FINALIZED",
    "CN:01-04": "request; expect Agreement; send verify; expect FINALIZED; state FINALIZED",
    "CN:02-01": "request; expect Termination; state TERMINATED",
    "CN:02-02": "request; state REQUESTED; send terminate; state TERMINATED",
    "CN:02-03": "request; expect Agreement; send terminate; state TERMINATED",
    "CN:02-04": "request; expect Offer; send terminate; state TERMINATED",
    "CN:02-05": "request; expect Offer; expect Termination; state TERMINATED",
    "CN:02-06": "request; expect Offer; send accept; expect Termination; state TERMINATED",
    "CN:02-07": "request; expect Agreement; send verify; expect Termination; state TERMINATED",
    "CN:03-01": "request; expect Agreement; send verify; expect FINALIZED; state FINALIZED; "
    "refused terminate; state FINALIZED",
    "CN:03-02": "request; expect Offer; refused verify; state OFFERED",
    "CN:03-03": "request; expect Offer; send accept; state ACCEPTED; refused verify; "
    "state ACCEPTED",
    "CN:03-04": "request; expect Offer; send counter; state REQUESTED; refused counter; "
    "state REQUESTED",
}

#: The TCK as provider, the CUT as consumer started through the trigger; dataset ACNCxxyy.
CONSUMER_CASES = {
    "CN_C:01-01": "trigger; state REQUESTED; send offer; expect ACCEPTED; send agreement; "
    "expect Verification; send finalize; state FINALIZED",
    "CN_C:01-02": "trigger; send offer; expect Request; send terminate; state TERMINATED",
    "CN_C:01-03": "trigger; send offer; expect Termination; state TERMINATED",
    "CN_C:01-04": "trigger; send agreement; expect Verification; send finalize; state FINALIZED",
    "CN_C:02-01": "trigger; state REQUESTED; send terminate; state TERMINATED",
    "CN_C:02-02": "trigger; expect Termination; state TERMINATED",
    "CN_C:02-03": "trigger; send agreement; expect Termination; state TERMINATED",
    "CN_C:02-04": "trigger; send offer; state OFFERED; send terminate; state TERMINATED",
    "CN_C:02-05": "trigger; send offer; expect ACCEPTED; send terminate; state TERMINATED",
    "CN_C:02-06": "trigger; send agreement; expect Verification; send terminate; state TERMINATED",
    "CN_C:03-01": "trigger; state REQUESTED; refused finalize; state REQUESTED",
    "CN_C:03-02": "trigger; send offer; state OFFERED; refused agreement; state OFFERED",
    "CN_C:03-03": "trigger; send offer; state OFFERED; refused finalize; state OFFERED",
    "CN_C:03-04": "trigger; send offer; expect ACCEPTED; state ACCEPTED; refused finalize; "
    "state ACCEPTED",
    "CN_C:03-05": "trigger; send offer; expect ACCEPTED; state ACCEPTED; refused offer; "
    "state ACCEPTED",
    "CN_C:03-06": "trigger; send offer; expect ACCEPTED; send agreement; state AGREED; "
    "refused finalize; state AGREED",
}

DATASET = {s.case: s.key for s in scripts.NEGOTIATIONS.values()}


def test_every_negotiation_case_has_a_script_and_a_walk() -> None:
    assert set(DATASET) == set(PROVIDER_CASES) | set(CONSUMER_CASES)
    assert len(PROVIDER_CASES) == 15 and len(CONSUMER_CASES) == 16


@pytest.mark.parametrize("case", sorted(PROVIDER_CASES))
async def test_provider_case(tmp_path: Path, case: str) -> None:
    async with bench(tmp_path) as b:
        talk = Conversation(b, "negotiations", DATASET[case])
        await talk.run(PROVIDER_CASES[case])
        await talk.nothing_more()


@pytest.mark.parametrize("case", sorted(CONSUMER_CASES))
async def test_consumer_case(tmp_path: Path, case: str) -> None:
    async with bench(tmp_path) as b:
        talk = Conversation(b, "negotiations", DATASET[case])
        await talk.run(CONSUMER_CASES[case])
        await talk.nothing_more()


async def test_agreements_reached_in_scripted_cases_are_stored_on_both_sides(
    tmp_path: Path,
) -> None:
    async with bench(tmp_path) as b:
        talk = Conversation(b, "negotiations", "ACN0103")
        await talk.run(PROVIDER_CASES["CN:01-03"])
        agreement = b.tck.received[1].body["agreement"]
        assert agreement["target"] == "ACN0103"
        assert agreement["assignee"] == "urn:eclipse:dsp-tck"  # the caller's identity
        with b.connector.store.transaction() as tx:
            stored = tx.agreements.get(agreement["@id"])
            n = tx.negotiations.by_pid("PROVIDER", provider_pid=talk.provider_pid)
        assert stored.asset_id == "ACN0103" and n.agreement_id == agreement["@id"]


async def test_unscripted_dataset_keeps_the_default_provider_behaviour(tmp_path: Path) -> None:
    """A dataset outside the TCK table is agreed at once, as without TCK mode."""
    async with bench(tmp_path) as b:
        now = b.connector.ctx.clock.now()
        from twinspace.store import Asset

        with b.connector.store.transaction() as tx:
            tx.assets.insert(Asset(id="ACN9999", properties={}, data_address={}, created_at=now))
            cd = tx.contract_definitions.get("tck-offers")
            cd.assets_selector[0]["operandRight"].append("ACN9999")
            tx.contract_definitions.replace(cd)
        talk = Conversation(b, "negotiations", "ACN9999")
        await talk.run("request; expect Agreement; send verify; expect FINALIZED; state FINALIZED")
        await talk.nothing_more()
