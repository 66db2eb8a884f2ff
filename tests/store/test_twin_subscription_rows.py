"""Twin broker subscriptions and the notification queue (leases, retries) on every backend."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from twinspace.clock import ManualClock
from twinspace.store import FAILED, PENDING, SENT, NotificationRow, Store, SubscriptionRow
from twinspace.store.errors import AlreadyExists, NotFound

LEASE = timedelta(seconds=30)


def subscription(sid: str, now: datetime, **kw: object) -> SubscriptionRow:
    return SubscriptionRow(
        id=sid, tenant=str(kw.pop("tenant", "")), doc={"id": sid}, created_at=now,
        modified_at=now, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def notification(
    nid: str, now: datetime, *, sub: str = "urn:s:1", due_in: float = 0
) -> NotificationRow:
    return NotificationRow(
        id=nid, tenant="", subscription_id=sub, endpoint={"uri": "http://x/notify"},
        payload={"data": [nid]}, next_attempt_at=now + timedelta(seconds=due_in), created_at=now,
    )  # fmt: skip


def test_subscription_crud_and_listing(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    with store.transaction() as tx:
        subs = tx.twin_subscriptions
        subs.add(subscription("urn:s:2", now))
        subs.add(subscription("urn:s:1", now, owner="transfer:t-1"))
        subs.add(subscription("urn:s:3", now, tenant="acme"))
        with pytest.raises(AlreadyExists):
            subs.add(subscription("urn:s:1", now))
    with store.transaction() as tx:
        subs = tx.twin_subscriptions
        assert [s.id for s in subs.list("")] == ["urn:s:1", "urn:s:2"]
        assert [s.id for s in subs.list("", offset=1, limit=5)] == ["urn:s:2"]
        assert subs.count("") == 2 and subs.count("acme") == 1
        assert subs.get("", "urn:s:3") is None
        found = subs.find("urn:s:3")
        assert found is not None and found.tenant == "acme"
        assert [s.id for s in subs.by_owner("transfer:t-1")] == ["urn:s:1"]
        changed = subs.get("", "urn:s:2")
        assert changed is not None
        changed.doc = {"id": "urn:s:2", "q": "speed>1"}
        subs.replace(changed)
        assert subs.get("", "urn:s:2") == changed
        with pytest.raises(NotFound):
            subs.replace(subscription("urn:s:9", now))
        assert subs.delete("", "urn:s:2") and not subs.delete("", "urn:s:2")
        assert not subs.delete("", "urn:s:3")  # another tenant's


def test_active_subscriptions_and_deliveries(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    with store.transaction() as tx:
        subs = tx.twin_subscriptions
        subs.add(subscription("urn:s:1", now))
        subs.add(subscription("urn:s:2", now, active=False))
        subs.add(subscription("urn:s:3", now, expires_at=now + timedelta(minutes=1)))
        subs.add(subscription("urn:s:4", now, expires_at=now))
        assert [s.id for s in subs.active("", now)] == ["urn:s:1", "urn:s:3"]
        assert [s.id for s in subs.active("", now + timedelta(minutes=1))] == ["urn:s:1"]
        subs.record_delivery("urn:s:1", now, True)
        subs.record_delivery("urn:s:1", now + LEASE, False, "HTTP 500")
        got = subs.get("", "urn:s:1")
    assert got is not None
    assert (got.times_sent, got.times_failed, got.last_error) == (1, 1, "HTTP 500")
    assert got.last_success == now and got.last_failure == now + LEASE
    assert got.last_notification == now + LEASE


def test_notifications_are_claimed_once_and_leases_expire(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    with store.transaction() as tx:
        tx.twin_notifications.enqueue_many(
            [notification("n-2", now, due_in=-1), notification("n-1", now, due_in=-2),
             notification("later", now, due_in=60)]
        )  # fmt: skip
    with store.transaction() as tx:
        q = tx.twin_notifications
        assert q.due_ids(now, 10) == ["n-1", "n-2"]
        assert q.due_ids(now, 1) == ["n-1"]
        assert q.claim("later", "w1", now, now + LEASE) is None  # not due yet
        claimed = q.claim("n-1", "w1", now, now + LEASE)
        assert claimed is not None and claimed.attempts == 1 and claimed.lease_owner == "w1"
        assert q.claim("n-1", "w2", now, now + LEASE) is None
        assert q.due_ids(now, 10) == ["n-2"]
    after = now + LEASE + timedelta(microseconds=1)
    with store.transaction() as tx:
        q = tx.twin_notifications
        assert q.due_ids(after, 10) == ["n-1", "n-2"]
        again = q.claim("n-1", "w2", after, after + LEASE)
        assert again is not None and again.attempts == 2
        assert not q.mark_sent("n-1", "w1", after)  # w1 lost its lease
        assert q.mark_sent("n-1", "w2", after)
        sent = q.get("n-1")
    assert sent is not None and sent.status == SENT and sent.sent_at == after
    assert sent.lease_owner is None


def test_notification_retry_failure_and_cancel(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    with store.transaction() as tx:
        tx.twin_notifications.enqueue_many(
            [notification("n-1", now), notification("n-2", now), notification("n-3", now),
             notification("n-4", now, sub="urn:s:2")]
        )  # fmt: skip
    with store.transaction() as tx:
        q = tx.twin_notifications
        assert q.claim("n-1", "w1", now, now + LEASE) is not None
        assert not q.mark_retry("n-1", "w2", "nope", now)  # only the lease owner
        assert q.mark_retry("n-1", "w1", "HTTP 503", now + timedelta(seconds=10))
        retried = q.get("n-1")
        assert retried is not None and retried.lease_owner is None
        assert retried.last_error == "HTTP 503" and retried.status == PENDING
        assert q.due_ids(now, 10) == ["n-2", "n-3", "n-4"]
        assert q.due_ids(now + timedelta(seconds=10), 10) == ["n-2", "n-3", "n-4", "n-1"]
        q.mark_failed("n-2", "gave up")
        assert q.pending_count("urn:s:1") == 2
        assert q.cancel_for("urn:s:1", "subscription deleted") == 2
        assert q.pending_count("urn:s:1") == 0 and q.pending_count("urn:s:2") == 1
        cancelled = q.get("n-3")
        assert cancelled is not None and cancelled.status == FAILED
        assert cancelled.last_error == "subscription deleted"
        assert q.get("missing") is None
