"""An inbound message judged on a process row that our own acknowledgement changed meanwhile.

The provider's agreement is in flight; the consumer's verification arrives and its transaction
reads the negotiation as REQUESTED; then the manager's acknowledgement commits (agreement SENT,
state AGREED). Reads are not snapshot-isolated, so the handler must not refuse the (legal)
verification with a 400: it raises Conflict and the caller's retry judges it on fresh rows.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from twinspace.clock import ManualClock
from twinspace.connector.processes import inbound_transition
from twinspace.protocol.machine import Role
from twinspace.protocol.negotiation import CN, NEGOTIATION, CNMessage
from twinspace.store import Conflict, Negotiation, OutboxItem, Store


def test_stale_process_row_gives_conflict_not_400(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    with store.transaction() as tx:
        tx.negotiations.insert(
            Negotiation(
                id="n1",
                role="PROVIDER",
                state=CN.REQUESTED,
                counter_party_address="http://consumer.test/dsp",
                created_at=now,
                updated_at=now,
                provider_pid="n1",
                consumer_pid="c1",
            )
        )
        tx.outbox.enqueue(
            OutboxItem(
                id="o1",
                process_kind="negotiation",
                process_id="n1",
                message_type=CNMessage.AGREEMENT,
                url="http://consumer.test/dsp/negotiations/c1/agreement",
                payload={},
                next_attempt_at=now,
                created_at=now,
            )
        )
    with store.transaction() as tx:
        assert tx.outbox.claim("o1", "manager", now, now + timedelta(seconds=30))

    with store.transaction() as inbound:
        stale = inbound.negotiations.get("n1")  # the inbound handler reads REQUESTED ...
        with store.transaction() as ack:  # ... while the manager's acknowledgement commits
            assert ack.outbox.mark_sent("o1", "manager", now)
            fresh = ack.negotiations.get("n1")
            fresh.state = CN.AGREED
            ack.negotiations.update_versioned(fresh)
        with pytest.raises(Conflict):
            inbound_transition(
                inbound,
                NEGOTIATION,
                stale,
                CNMessage.VERIFICATION,
                area="negotiation",
                now=now,
                effects=lambda *args: None,
            )
    with store.transaction() as tx:  # judged again on the fresh row, the verification is legal
        current = tx.negotiations.get("n1")
        assert (
            NEGOTIATION.next_state(Role.CONSUMER, current.state, CNMessage.VERIFICATION)
            == CN.VERIFIED
        )
