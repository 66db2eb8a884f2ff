"""The outbox (leases, retries, delivery), the inbox and the data tokens, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from twinspace.clock import ManualClock
from twinspace.store import FAILED, PENDING, SENT, AlreadyExists, Conflict, NotFound, Store

from .factories import outbox_item, token

LEASE = timedelta(seconds=30)


def test_enqueue_and_get(store: Store, clock: ManualClock) -> None:
    item = outbox_item("o-1", clock.now())
    with store.transaction() as tx:
        tx.outbox.enqueue(item)
    with store.transaction() as tx:
        got = tx.outbox.get("o-1")
        with pytest.raises(AlreadyExists):
            tx.outbox.enqueue(outbox_item("o-1", clock.now()))
        with pytest.raises(NotFound):
            tx.outbox.get("missing")
    assert got == item
    assert got.status == PENDING and got.attempts == 0 and got.lease_owner is None


def test_due_ids_respects_next_attempt_at_order_and_limit(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    with store.transaction() as tx:
        tx.outbox.enqueue(outbox_item("later", now, due_in=60))
        tx.outbox.enqueue(outbox_item("now", now, due_in=0))
        tx.outbox.enqueue(outbox_item("past-2", now, due_in=-10))
        tx.outbox.enqueue(outbox_item("past-1", now, due_in=-20))
    with store.transaction() as tx:
        assert tx.outbox.due_ids(now, 10) == ["past-1", "past-2", "now"]
        assert tx.outbox.due_ids(now, 2) == ["past-1", "past-2"]
        assert tx.outbox.due_ids(now - timedelta(seconds=15), 10) == ["past-1"]
        assert tx.outbox.due_ids(now + timedelta(seconds=60), 10) == [
            "past-1",
            "past-2",
            "now",
            "later",
        ]


def test_due_ids_skips_leased_sent_and_failed_items(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    with store.transaction() as tx:
        for key in ("leased", "sent", "failed", "free"):
            tx.outbox.enqueue(outbox_item(key, now))
    with store.transaction() as tx:
        assert tx.outbox.claim("leased", "w1", now, now + LEASE) is not None
        assert tx.outbox.claim("sent", "w1", now, now + LEASE) is not None
        assert tx.outbox.mark_sent("sent", "w1", now)
        tx.outbox.mark_failed("failed", "gave up")
    with store.transaction() as tx:
        assert tx.outbox.due_ids(now, 10) == ["free"]
        assert tx.outbox.due_ids(now + LEASE, 10) == ["free"]  # the lease runs until then
        after = now + LEASE + timedelta(microseconds=1)
        assert sorted(tx.outbox.due_ids(after, 10)) == ["free", "leased"]


def test_claim_leases_once_and_counts_attempts(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    with store.transaction() as tx:
        tx.outbox.enqueue(outbox_item("o-1", now))
        tx.outbox.enqueue(outbox_item("not-due", now, due_in=60))
    with store.transaction() as tx:
        claimed = tx.outbox.claim("o-1", "w1", now, now + LEASE)
    assert claimed is not None
    assert claimed.attempts == 1
    assert claimed.lease_owner == "w1" and claimed.lease_until == now + LEASE
    assert claimed.status == PENDING

    with store.transaction() as tx:
        assert tx.outbox.claim("o-1", "w2", now, now + LEASE) is None
        assert tx.outbox.claim("o-1", "w1", now + LEASE, now + 2 * LEASE) is None
        assert tx.outbox.claim("missing", "w2", now, now + LEASE) is None
        assert tx.outbox.get("o-1") == claimed  # the failed claims changed nothing


def test_an_expired_lease_can_be_claimed_again(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    with store.transaction() as tx:
        tx.outbox.enqueue(outbox_item("o-1", now))
    with store.transaction() as tx:
        assert tx.outbox.claim("o-1", "w1", now, now + LEASE) is not None

    clock.advance(LEASE.total_seconds() + 1)
    later = clock.now()
    with store.transaction() as tx:
        assert tx.outbox.due_ids(later, 10) == ["o-1"]
        again = tx.outbox.claim("o-1", "w2", later, later + LEASE)
    assert again is not None
    assert again.attempts == 2 and again.lease_owner == "w2"
    assert again.lease_until == later + LEASE

    with store.transaction() as tx:
        assert not tx.outbox.mark_sent("o-1", "w1", later)  # the old owner lost the lease
        assert tx.outbox.get("o-1").status == PENDING
        assert tx.outbox.mark_sent("o-1", "w2", later)


def test_mark_sent_only_by_the_lease_owner(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    with store.transaction() as tx:
        tx.outbox.enqueue(outbox_item("o-1", now))
        tx.outbox.enqueue(outbox_item("unclaimed", now))
        tx.outbox.claim("o-1", "w1", now, now + LEASE)
    clock.advance(3)
    with store.transaction() as tx:
        assert not tx.outbox.mark_sent("o-1", "w2", clock.now())
        assert not tx.outbox.mark_sent("unclaimed", "w1", clock.now())
        assert tx.outbox.mark_sent("o-1", "w1", clock.now())
        assert not tx.outbox.mark_sent("o-1", "w1", clock.now())  # only once
    with store.transaction() as tx:
        sent = tx.outbox.get("o-1")
        assert tx.outbox.get("unclaimed").status == PENDING
        assert tx.outbox.due_ids(clock.now() + timedelta(days=1), 10) == ["unclaimed"]
    assert sent.status == SENT and sent.sent_at == clock.now()
    assert sent.lease_owner is None and sent.lease_until is None and sent.last_error is None


def test_mark_delivered_whoever_holds_the_lease(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    with store.transaction() as tx:
        tx.outbox.enqueue(outbox_item("o-1", now))
        tx.outbox.claim("o-1", "w1", now, now + LEASE)
        assert tx.outbox.mark_delivered("o-1", now)
        assert not tx.outbox.mark_delivered("o-1", now)
        assert tx.outbox.get("o-1").status == SENT


def test_mark_retry_reschedules_and_releases(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    retry_at = now + timedelta(seconds=10)
    with store.transaction() as tx:
        tx.outbox.enqueue(outbox_item("o-1", now))
        tx.outbox.claim("o-1", "w1", now, now + LEASE)
    with store.transaction() as tx:
        tx.outbox.mark_retry("o-1", "w2", "not mine", retry_at)  # ignored: not the owner
        assert tx.outbox.get("o-1").lease_owner == "w1"
        tx.outbox.mark_retry("o-1", "w1", "connection refused", retry_at)
    with store.transaction() as tx:
        item = tx.outbox.get("o-1")
        assert tx.outbox.due_ids(now, 10) == []
        assert tx.outbox.due_ids(retry_at, 10) == ["o-1"]
        claimed = tx.outbox.claim("o-1", "w2", retry_at, retry_at + LEASE)
    assert item.status == PENDING and item.attempts == 1
    assert item.last_error == "connection refused" and item.next_attempt_at == retry_at
    assert item.lease_owner is None and item.lease_until is None
    assert claimed is not None and claimed.attempts == 2


def test_mark_failed(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    with store.transaction() as tx:
        tx.outbox.enqueue(outbox_item("o-1", now))
        tx.outbox.claim("o-1", "w1", now, now + LEASE)
        tx.outbox.mark_failed("o-1", "too many attempts")
    with store.transaction() as tx:
        item = tx.outbox.get("o-1")
        assert tx.outbox.due_ids(now + timedelta(days=1), 10) == []
        assert not tx.outbox.mark_sent("o-1", "w1", now)
    assert item.status == FAILED and item.last_error == "too many attempts"
    assert item.lease_owner is None and item.lease_until is None


def test_cancel_pending_pending_for_and_latest_for(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    with store.transaction() as tx:
        tx.outbox.enqueue(outbox_item("p1-c", now, process_id="p1", created_in=2))
        tx.outbox.enqueue(outbox_item("p1-a", now, process_id="p1", created_in=0))
        tx.outbox.enqueue(outbox_item("p1-b", now, process_id="p1", created_in=1))
        tx.outbox.enqueue(outbox_item("p2-a", now, process_id="p2", created_in=3))
        tx.outbox.claim("p1-a", "w1", now, now + LEASE)
        tx.outbox.mark_sent("p1-a", "w1", now)
    with store.transaction() as tx:
        assert [i.id for i in tx.outbox.pending_for("p1")] == ["p1-b", "p1-c"]
        assert [i.id for i in tx.outbox.pending_for("p2")] == ["p2-a"]
        assert tx.outbox.pending_for("nobody") == []
        latest = tx.outbox.latest_for("p1")
        assert latest is not None and latest.id == "p1-c"
        assert tx.outbox.latest_for("nobody") is None

        tx.outbox.cancel_pending("p1", "process terminated")
    with store.transaction() as tx:
        assert tx.outbox.pending_for("p1") == []
        assert tx.outbox.get("p1-a").status == SENT  # delivered stays delivered
        for key in ("p1-b", "p1-c"):
            cancelled = tx.outbox.get(key)
            assert cancelled.status == FAILED and cancelled.last_error == "process terminated"
        assert tx.outbox.get("p2-a").status == PENDING
        assert tx.outbox.due_ids(now + timedelta(days=1), 10) == ["p2-a"]
        latest = tx.outbox.latest_for("p1")
        assert latest is not None and latest.id == "p1-c"


def test_inbox_seen_remember_and_put(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    body = {"@type": "ContractNegotiation", "state": "REQUESTED", "nested": [{"a": None}]}
    with store.transaction() as tx:
        assert tx.inbox.seen("k-1") is None
        tx.inbox.remember("k-1", 201, body, now)
        tx.inbox.remember("k-2", 204, None, now)
    with store.transaction() as tx:
        assert tx.inbox.seen("k-1") == (201, body)
        assert tx.inbox.seen("k-2") == (204, None)
        assert tx.inbox.seen("k-3") is None
    with pytest.raises(Conflict), store.transaction() as tx:
        tx.inbox.remember("k-1", 200, {}, now)
    with store.transaction() as tx:
        tx.inbox.put("k-1", 400, {"error": "changed"}, now)
        tx.inbox.put("k-new", 200, [1, 2], now)
    with store.transaction() as tx:
        assert tx.inbox.seen("k-1") == (400, {"error": "changed"})
        assert tx.inbox.seen("k-new") == (200, [1, 2])


def test_tokens_add_find_and_revoke(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    with store.transaction() as tx:
        tx.tokens.add(token("h-pull", now, transfer_id="t-1", kind="pull"))
        tx.tokens.add(token("h-push", now, transfer_id="t-1", kind="push"))
        tx.tokens.add(token("h-other", now, transfer_id="t-2", kind="pull"))
        with pytest.raises(AlreadyExists):
            tx.tokens.add(token("h-pull", now))
    with store.transaction() as tx:
        assert tx.tokens.find("h-pull") == token("h-pull", now, transfer_id="t-1", kind="pull")
        assert tx.tokens.find("missing") is None

    clock.advance(10)
    first = clock.now()
    with store.transaction() as tx:
        tx.tokens.revoke_for("t-1", first, kind="push")
    with store.transaction() as tx:
        push, pull = tx.tokens.find("h-push"), tx.tokens.find("h-pull")
    assert push is not None and push.revoked_at == first
    assert pull is not None and pull.revoked_at is None

    clock.advance(10)
    with store.transaction() as tx:
        tx.tokens.revoke_for("t-1", clock.now())
    with store.transaction() as tx:
        pull, push = tx.tokens.find("h-pull"), tx.tokens.find("h-push")
        other = tx.tokens.find("h-other")
    assert pull is not None and pull.revoked_at == clock.now()
    assert pull.revoked_at.tzinfo is not None
    assert push is not None and push.revoked_at == first  # the first revocation is kept
    assert other is not None and other.revoked_at is None
