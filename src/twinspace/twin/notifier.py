"""Subscription notifications: queued in the write transaction, delivered by a leased loop.

``Notifier.enqueue`` runs inside the broker's write transaction (so a change and its
notifications commit together): it loads the tenant's live subscriptions once, matches every
change against them (``twin.notification``), renders the entities each subscription sees with its
own @context and queues ONE notification per subscription per call in ``tx.twin_notifications``.

Throttling (clause 5.2.12): a subscription with ``throttling`` T gets at most one notification per
T seconds. A change inside the window is queued for ``lastNotification + T``; everything queued
for a subscription that is due together is sent as one notification carrying the latest state of
each entity (nothing is lost). Should another notification have gone out meanwhile, the batch is
put back to the end of the new window (that hand-back counts as an attempt).

``Notifier.run`` is the delivery loop; several processes may run one over the same database: each
due notification is leased by exactly one of them (``claim``). A 2xx answer marks it sent; anything
else is retried with ``twinspace.retry.backoff`` (the row keeps its last error and next attempt)
until ``max_attempts``, then marked failed. Every attempt is recorded on the subscription
(timesSent/timesFailed/lastNotification/lastSuccess/lastFailure). Notifications of a subscription
that was deleted, paused or has expired are dropped with that reason.

``filters`` maps a subscription-owner prefix (e.g. ``"transfer:"``) to a hook that shapes or hides
(returns None) each entity before it is rendered for that subscription; a hook that raises hides
the entity. A subscription whose @context ``terms_for`` cannot give is skipped (recorded as a
failure on it), never failing the write. A write that queued notifications wakes the loop when
it commits (``wake()`` does the same from anywhere); otherwise the loop polls every ``interval``
seconds.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from twinspace.clock import Clock
from twinspace.retry import backoff
from twinspace.store import Store, Tx
from twinspace.store.twin_rows import NotificationRow, SubscriptionRow
from twinspace.twin.context import TermMap
from twinspace.twin.errors import NgsiError
from twinspace.twin.notification import (
    RenderCache,
    coalesce,
    compile_subscription,
    describe_change,
    notification_headers,
    notification_payload,
    throttle_due,
)
from twinspace.twin.subscription import iso, subscription_status, to_datetime

log = logging.getLogger("twinspace.twin.notifier")

Entity = dict[str, Any]
Change = tuple[Entity | None, Entity | None]
#: The TermMap of a subscription's context list (a sync accessor, e.g. the ContextLoader's cache).
TermsFor = Callable[[list[str | dict[str, Any]]], TermMap]
#: Shapes an entity for a subscription (None hides it), keyed by subscription owner prefix.
Filter = Callable[[SubscriptionRow, Entity], Entity | None]


def delivery_status(row: SubscriptionRow, now: datetime) -> dict[str, Any]:
    """The status of a subscription row as ``render_subscription`` wants it."""
    state = subscription_status(row.doc, now)
    if state == "active" and not row.active:
        state = "paused"
    if row.expires_at is not None and row.expires_at <= now:
        state = "expired"
    # clause 5.2.12: timesSent counts every notification sent, timesFailed those that failed
    # (the store counts successes and failures apart)
    sent = row.times_sent + row.times_failed
    note: dict[str, Any] = {"timesSent": sent, "timesFailed": row.times_failed}
    for key, moment in (
        ("lastNotification", row.last_notification),
        ("lastSuccess", row.last_success),
        ("lastFailure", row.last_failure),
    ):
        if moment is not None:
            note[key] = iso(moment)
    if row.last_notification is not None:
        failed = row.last_failure is not None and (
            row.last_success is None or row.last_failure >= row.last_success
        )
        note["status"] = "failed" if failed else "ok"
    return {"status": state, "notification": note}


_SEQUENCE = itertools.count()
_COMMIT_DELAY = 0.005  # seconds between the commit hook and the loop's look


def _queue_id() -> str:
    """A notification id that sorts in the order this process queued them (coalescing keeps the
    latest state of an entity, so order matters even within one clock tick)."""
    return f"{time.time_ns():016x}{next(_SEQUENCE) % 0x10000:04x}{uuid.uuid4().hex[:12]}"


def _deleted(entity: Entity, now: datetime) -> Entity:
    """What a notification says of a deleted entity: its id, types and when."""
    return {"id": entity["id"], "type": entity["type"], "attrs": {}, "deletedAt": iso(now)}


class Notifier:
    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        client: httpx.AsyncClient,
        terms_for: TermsFor,
        filters: Mapping[str, Filter] | None = None,
        owner: str | None = None,
        max_attempts: int = 8,
        backoff_base: float = 1.0,
        backoff_max: float = 300.0,
        lease_seconds: float = 30.0,
        send_timeout: float = 10.0,
        interval: float = 0.1,
        batch: int = 256,
        concurrency: int = 16,
    ) -> None:
        self.store = store
        self.clock = clock
        self.client = client
        self.terms_for = terms_for
        self.filters = dict(filters or {})
        self.owner = owner or f"notifier-{uuid.uuid4().hex[:12]}"
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.lease_seconds = lease_seconds
        self.send_timeout = send_timeout
        self.interval = interval
        self.batch = batch
        self.concurrency = concurrency
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- the write side -------------------------------------------------------------------------

    def enqueue(self, tx: Tx, tenant: str, changes: list[Change], now: datetime | str) -> int:
        """Queue the notifications ``changes`` trigger, in the caller's transaction ``tx``;
        returns how many notifications were queued (at most one per subscription)."""
        if not changes:
            return 0
        moment = to_datetime(now)
        rows = tx.twin_subscriptions.active(tenant, moment)
        if not rows:
            return 0
        described = []
        for before, after in changes:
            change = describe_change(before, after)
            if change is not None:
                shown = change.entity if after is not None else _deleted(change.entity, moment)
                described.append((change, shown))
        if not described:
            return 0
        items = []
        cache: RenderCache = {}  # subscriptions asking for the same rendering share it
        for row in rows:
            sub = row.doc
            if not row.active:
                continue
            try:
                terms = self.terms_for(list(sub.get("jsonldContext") or []))
            except NgsiError as exc:  # never fail the write: skip, and say so on the subscription
                log.warning("subscription %s skipped: %s", row.id, exc.detail)
                reason = f"notification skipped: @context not available ({exc.detail})"
                tx.twin_subscriptions.record_delivery(row.id, moment, False, reason)
                continue
            compiled = compile_subscription(sub, terms)
            if not compiled.live(moment):
                continue
            hook = self._filter_for(row.owner)
            selected: dict[str, Entity] = {}
            for change, shown in described:
                if not compiled.fires(change):
                    continue
                entity = shown if hook is None else self._shaped(hook, row, shown)
                if entity is None:
                    continue
                selected.pop(entity["id"], None)
                selected[entity["id"]] = entity
            if not selected:
                continue
            endpoint = sub["notification"]["endpoint"]
            items.append(
                NotificationRow(
                    id=_queue_id(),
                    tenant=tenant,
                    subscription_id=row.id,
                    endpoint={"uri": endpoint["uri"], "headers": notification_headers(sub, tenant)},
                    payload=notification_payload(
                        sub, selected.values(), terms, moment, None if hook else cache
                    ),
                    next_attempt_at=throttle_due(sub, row.last_notification, moment),
                    created_at=moment,
                )
            )
        if items:
            tx.twin_notifications.enqueue_many(items)
            if self._loop is not None:  # deliver promptly once the write commits
                sa.event.listen(tx.conn, "commit", self._wake_on_commit, once=True)
        return len(items)

    def _wake_on_commit(self, _conn: Any) -> None:
        """Wake the loop just after the COMMIT (this hook runs right before it; should the
        loop still look too early, its next poll finds the rows)."""
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(loop.call_later, _COMMIT_DELAY, self._wake.set)

    @staticmethod
    def _shaped(hook: Filter, row: SubscriptionRow, entity: Entity) -> Entity | None:
        """What ``hook`` lets the subscription see; a failing hook hides the entity."""
        try:
            return hook(row, entity)
        except Exception:
            log.exception("notification filter failed for subscription %s", row.id)
            return None

    def _filter_for(self, owner: str | None) -> Filter | None:
        if owner:
            for prefix, hook in self.filters.items():
                if owner.startswith(prefix):
                    return hook
        return None

    def status(self, tenant: str, sub_id: str) -> dict[str, Any] | None:
        """The delivery status of a subscription (for ``render_subscription``); None if absent."""
        with self.store.transaction() as tx:
            row = tx.twin_subscriptions.get(tenant, sub_id)
        return None if row is None else delivery_status(row, self.clock.now())

    # -- the delivery side ----------------------------------------------------------------------

    def wake(self) -> None:
        """Ask the loop to look for due notifications now (safe from any thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Deliver until ``stop`` is set (or the task is cancelled)."""
        self._loop = asyncio.get_running_loop()
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                busy = await self.deliver_due()
            except Exception:  # keep the loop alive; the failure is logged with its traceback
                log.exception("notification delivery pass failed")
                busy = 0
            if busy:
                continue
            self._wake.clear()
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait(
                {waiter, stopper}, timeout=self.interval, return_when=asyncio.FIRST_COMPLETED
            )
            waiter.cancel()
            stopper.cancel()

    async def deliver_due(self) -> int:
        """One pass: claim what is due, deliver it; returns how many queued rows were handled."""
        groups = await asyncio.to_thread(self._claim)
        gate = asyncio.Semaphore(self.concurrency)

        async def one(sub: SubscriptionRow | None, rows: list[NotificationRow]) -> None:
            async with gate:
                await self._deliver(sub, rows)

        await asyncio.gather(*(one(sub, rows) for sub, rows in groups))
        return sum(len(rows) for _, rows in groups)

    def _claim(self) -> list[tuple[SubscriptionRow | None, list[NotificationRow]]]:
        now = self.clock.now()
        until = now + timedelta(seconds=self.lease_seconds)
        with self.store.transaction() as tx:
            ids = tx.twin_notifications.due_ids(now, self.batch)
        if not ids:
            return []
        groups: dict[str, list[NotificationRow]] = {}
        subs: dict[str, SubscriptionRow | None] = {}
        with self.store.transaction() as tx:  # rows locked in id order: no deadlock
            for item_id in sorted(ids):
                item = tx.twin_notifications.claim(item_id, self.owner, now, until)
                if item is not None:
                    groups.setdefault(item.subscription_id, []).append(item)
            for sub_id in groups:
                subs[sub_id] = tx.twin_subscriptions.find(sub_id)
        return [
            (subs[sub_id], sorted(rows, key=lambda r: (r.created_at, r.id)))
            for sub_id, rows in groups.items()
        ]

    async def _deliver(self, sub: SubscriptionRow | None, rows: list[NotificationRow]) -> None:
        now = self.clock.now()
        reason = self._dropped(sub, now)
        if reason is not None:
            await asyncio.to_thread(self._drop, rows, reason)
            return
        assert sub is not None
        seconds = sub.doc.get("throttling") or 0
        if seconds and sub.last_notification is not None:
            allowed = sub.last_notification + timedelta(seconds=seconds)
            if allowed > now:  # another notification went out meanwhile: wait for the window
                await asyncio.to_thread(self._postpone, rows, allowed)
                return
        payload = dict(coalesce([r.payload for r in rows]))
        payload["notifiedAt"] = iso(now)
        endpoint = rows[-1].endpoint
        error = await self._post(str(endpoint["uri"]), payload, dict(endpoint.get("headers", {})))
        await asyncio.to_thread(self._finish, sub.id, rows, error)

    @staticmethod
    def _dropped(sub: SubscriptionRow | None, now: datetime) -> str | None:
        if sub is None:
            return "subscription deleted"
        if not sub.active or not sub.doc.get("isActive", True):
            return "subscription paused"
        if sub.expires_at is not None and sub.expires_at <= now:
            return "subscription expired"
        if subscription_status(sub.doc, now) == "expired":
            return "subscription expired"
        return None

    async def _post(self, uri: str, payload: Any, headers: dict[str, str]) -> str | None:
        """POST one notification; None on a 2xx answer, else the reason."""
        try:
            response = await self.client.post(
                uri,
                content=json.dumps(payload).encode(),
                headers=headers,
                timeout=self.send_timeout,
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}: {response.text[:200]}"

    def _finish(self, sub_id: str, rows: list[NotificationRow], error: str | None) -> None:
        now = self.clock.now()
        with self.store.transaction() as tx:
            outbox = tx.twin_notifications
            if error is None:
                for row in rows:
                    outbox.mark_sent(row.id, self.owner, now)
            else:
                for row in rows:
                    if row.attempts >= self.max_attempts:
                        outbox.mark_failed(row.id, f"{error} (gave up after {row.attempts})")
                    else:
                        delay = backoff(row.attempts - 1, self.backoff_base, self.backoff_max)
                        outbox.mark_retry(row.id, self.owner, error, now + timedelta(seconds=delay))
            tx.twin_subscriptions.record_delivery(sub_id, now, error is None, error)

    def _drop(self, rows: list[NotificationRow], reason: str) -> None:
        with self.store.transaction() as tx:
            for row in rows:
                tx.twin_notifications.mark_failed(row.id, reason)

    def _postpone(self, rows: list[NotificationRow], until: datetime) -> None:
        with self.store.transaction() as tx:
            for row in rows:
                tx.twin_notifications.mark_retry(
                    row.id, self.owner, f"throttled until {iso(until)}", until
                )


__all__ = ["Filter", "Notifier", "TermsFor", "delivery_status"]
