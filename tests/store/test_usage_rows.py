"""Usage-control repositories on every backend: counters, duties, usage log, acceptance rules."""

from __future__ import annotations

from datetime import timedelta

from twinspace.clock import ManualClock
from twinspace.store import (
    DUTY_DONE,
    DUTY_FAILED,
    DUTY_PENDING,
    AcceptanceRule,
    DutyRecord,
    Store,
    UsageEntry,
)


def test_uses_are_counted_per_agreement(store: Store, clock: ManualClock) -> None:
    with store.transaction() as tx:
        assert tx.counters.get("a-1") == 0
        assert tx.counters.increment("a-1", clock.now()) == 1
        assert tx.counters.increment("a-1", clock.now()) == 2
        assert tx.counters.increment("a-2", clock.now()) == 1
    with store.transaction() as tx:
        assert tx.counters.get("a-1") == 2
        assert tx.counters.increment("a-1", clock.now()) == 3
        tx.counters.decrement("a-1")  # a denied access is taken back
        assert tx.counters.get("a-1") == 2


def _duty(did: str, clock: ManualClock, due: float) -> DutyRecord:
    return DutyRecord(
        id=did,
        agreement_id="a-1",
        action="delete",
        due_at=clock.now() + timedelta(seconds=due),
        detail={"path": "/tmp/x"},
        created_at=clock.now(),
    )


def test_duties_come_due_in_order_and_record_their_outcome(
    store: Store, clock: ManualClock
) -> None:
    with store.transaction() as tx:
        tx.duties.insert(_duty("d-2", clock, 20))
        tx.duties.insert(_duty("d-1", clock, 10))
        assert tx.duties.due(clock.now()) == []
    clock.advance(30)
    with store.transaction() as tx:
        assert [d.id for d in tx.duties.due(clock.now())] == ["d-1", "d-2"]
        tx.duties.finish("d-1", clock.now())
        tx.duties.retry("d-2", "disk full", clock.now() + timedelta(seconds=5), give_up=False)
    with store.transaction() as tx:
        assert tx.duties.due(clock.now()) == []
        done, retried = tx.duties.for_agreement("a-1")
        assert (done.state, retried.state) == (DUTY_DONE, DUTY_PENDING) or (
            retried.state,
            done.state,
        ) == (DUTY_DONE, DUTY_PENDING)
        tx.duties.retry("d-2", "disk full", clock.now(), give_up=True)
        assert tx.duties.get("d-2").state == DUTY_FAILED
        assert tx.duties.get("d-2").attempts == 2


def test_the_usage_log_keeps_entries_per_agreement(store: Store, clock: ManualClock) -> None:
    with store.transaction() as tx:
        for i, allowed in enumerate([True, False]):
            tx.usage_log.add(
                UsageEntry(
                    id=f"u-{i}",
                    at=clock.now() + timedelta(seconds=i),
                    agreement_id="a-1",
                    event="access",
                    allowed=allowed,
                    detail={"reasons": []},
                )
            )
    with store.transaction() as tx:
        assert [e.allowed for e in tx.usage_log.for_agreement("a-1")] == [True, False]
        assert tx.usage_log.for_agreement("a-2") == []


def test_acceptance_rules_are_stored(store: Store, clock: ManualClock) -> None:
    rule = AcceptanceRule(
        id="r-1", policy={"permission": [{"action": "use"}]}, created_at=clock.now()
    )
    with store.transaction() as tx:
        tx.acceptance_rules.insert(rule)
    with store.transaction() as tx:
        assert tx.acceptance_rules.list() == [rule]


def test_signals_are_active_in_their_window(store: Store, clock: ManualClock) -> None:
    from twinspace.store import Signal

    with store.transaction() as tx:
        tx.signals.insert(
            Signal("incident", "event", clock.now(), clock.now() + timedelta(hours=1))
        )
        tx.signals.insert(Signal("agreementActive", "state", clock.now()))
        assert tx.signals.active("event", clock.now()) == {"incident"}
        assert tx.signals.active("state", clock.now()) == {"agreementActive"}
    clock.advance(3601)
    with store.transaction() as tx:
        assert tx.signals.active("event", clock.now()) == frozenset()
        assert tx.signals.active("state", clock.now()) == {"agreementActive"}
