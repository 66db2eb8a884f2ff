"""NGSI-LD subscriptions (``tx.twin_subscriptions``) and the queue of notifications to deliver
(``tx.twin_notifications``).

The queue leases items like the DSP ``Outbox``: a worker lists ``due_ids``, ``claim``s one (a
conditional UPDATE the database re-checks under the row lock, so two replicas never both win it),
delivers it outside the transaction, then ``mark_sent`` or ``mark_retry`` as the lease owner;
an expired lease makes the item due again.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from twinspace.store import twin_tables as tt
from twinspace.store.errors import AlreadyExists, NotFound
from twinspace.store.records import FAILED, PENDING, SENT
from twinspace.store.rows import from_row, to_row
from twinspace.store.twin_rows import NotificationRow, SubscriptionRow

_S = tt.twin_subscriptions
_N = tt.twin_notifications


class TwinSubscriptions:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, row: SubscriptionRow) -> None:
        """Insert ``row``; AlreadyExists when the id is taken (in any tenant)."""
        try:
            with self.conn.begin_nested():
                self.conn.execute(_S.insert().values(**to_row(row)))
        except sa.exc.IntegrityError as exc:
            raise AlreadyExists("subscription", row.id) from exc

    def get(self, tenant: str, subscription_id: str) -> SubscriptionRow | None:
        return self._one(_S.c.tenant == tenant, _S.c.id == subscription_id)

    def find(self, subscription_id: str) -> SubscriptionRow | None:
        """The subscription whatever its tenant (deliveries know only the id)."""
        return self._one(_S.c.id == subscription_id)

    def list(
        self, tenant: str, offset: int = 0, limit: int | None = None
    ) -> builtins.list[SubscriptionRow]:
        """The tenant's subscriptions by id."""
        stmt = sa.select(_S).where(_S.c.tenant == tenant).order_by(_S.c.id).offset(offset)
        if limit is not None:
            stmt = stmt.limit(limit)
        return self._many(stmt)

    def count(self, tenant: str) -> int:
        stmt = sa.select(sa.func.count()).select_from(_S).where(_S.c.tenant == tenant)
        return int(self.conn.execute(stmt).scalar_one())

    def active(self, tenant: str, now: datetime) -> builtins.list[SubscriptionRow]:
        """The tenant's active subscriptions that have not expired (``expires_at`` > now)."""
        c = _S.c
        stmt = (
            sa.select(_S)
            .where(
                c.tenant == tenant,
                c.active.is_(True),
                sa.or_(c.expires_at.is_(None), c.expires_at > now),
            )
            .order_by(c.id)
        )
        return self._many(stmt)

    def replace(self, row: SubscriptionRow) -> None:
        """Overwrite the stored subscription of ``row.id`` and ``row.tenant``; NotFound if absent."""
        values = to_row(row)
        result = self.conn.execute(
            _S.update().where(_S.c.id == row.id, _S.c.tenant == row.tenant).values(**values)
        )
        if result.rowcount == 0:
            raise NotFound("subscription", row.id)

    def delete(self, tenant: str, subscription_id: str) -> bool:
        c = _S.c
        result = self.conn.execute(_S.delete().where(c.tenant == tenant, c.id == subscription_id))
        return result.rowcount == 1

    def record_delivery(
        self, subscription_id: str, now: datetime, ok: bool, error: str | None = None
    ) -> None:
        """Count one notification attempt's outcome (atomic under concurrent workers)."""
        c = _S.c
        values: dict[str, Any] = {"last_notification": now}
        if ok:
            values.update(times_sent=c.times_sent + 1, last_success=now)
        else:
            values.update(times_failed=c.times_failed + 1, last_failure=now, last_error=error)
        self.conn.execute(_S.update().where(c.id == subscription_id).values(**values))

    def by_owner(self, owner: str) -> builtins.list[SubscriptionRow]:
        """The subscriptions created on behalf of ``owner`` (e.g. "transfer:<id>"), by id."""
        return self._many(sa.select(_S).where(_S.c.owner == owner).order_by(_S.c.id))

    def _one(self, *conditions: Any) -> SubscriptionRow | None:
        row = self.conn.execute(sa.select(_S).where(*conditions)).mappings().first()
        return None if row is None else from_row(SubscriptionRow, row)

    def _many(self, stmt: sa.Select[Any]) -> builtins.list[SubscriptionRow]:
        return [from_row(SubscriptionRow, r) for r in self.conn.execute(stmt).mappings()]


class TwinNotifications:
    """Notifications queued in the same transaction as the change they report."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def enqueue_many(self, items: Sequence[NotificationRow]) -> None:
        if items:
            self.conn.execute(_N.insert(), [to_row(item) for item in items])

    def get(self, item_id: str) -> NotificationRow | None:
        row = self.conn.execute(sa.select(_N).where(_N.c.id == item_id)).mappings().first()
        return None if row is None else from_row(NotificationRow, row)

    def due_ids(self, now: datetime, limit: int) -> list[str]:
        """Pending, unleased (or lease expired) items whose attempt is due, oldest due first."""
        c = _N.c
        stmt = (
            sa.select(c.id)
            .where(
                c.status == PENDING,
                c.next_attempt_at <= now,
                sa.or_(c.lease_until.is_(None), c.lease_until < now),
            )
            .order_by(c.next_attempt_at, c.id)
            .limit(limit)
        )
        return [str(r[0]) for r in self.conn.execute(stmt)]

    def claim(
        self, item_id: str, owner: str, now: datetime, until: datetime
    ) -> NotificationRow | None:
        """Lease one item for ``owner`` until ``until`` and count the attempt; None when another
        worker holds it, it is finished, or it is not due yet."""
        c = _N.c
        result = self.conn.execute(
            _N.update()
            .where(
                c.id == item_id,
                c.status == PENDING,
                c.next_attempt_at <= now,
                sa.or_(c.lease_until.is_(None), c.lease_until < now),
            )
            .values(lease_owner=owner, lease_until=until, attempts=c.attempts + 1)
        )
        if result.rowcount != 1:
            return None
        return self.get(item_id)

    def mark_sent(self, item_id: str, owner: str, now: datetime) -> bool:
        """Record delivery by the lease owner; False when the lease was lost meanwhile."""
        c = _N.c
        result = self.conn.execute(
            _N.update()
            .where(c.id == item_id, c.lease_owner == owner, c.status == PENDING)
            .values(status=SENT, sent_at=now, lease_owner=None, lease_until=None, last_error=None)
        )
        return result.rowcount == 1

    def mark_retry(self, item_id: str, owner: str, error: str, next_at: datetime) -> bool:
        """Release the lease and schedule another attempt at ``next_at`` (lease owner only)."""
        c = _N.c
        result = self.conn.execute(
            _N.update()
            .where(c.id == item_id, c.lease_owner == owner, c.status == PENDING)
            .values(last_error=error, next_attempt_at=next_at, lease_owner=None, lease_until=None)
        )
        return result.rowcount == 1

    def mark_failed(self, item_id: str, error: str) -> None:
        """Give up on the item, whoever holds it."""
        self.conn.execute(
            _N.update()
            .where(_N.c.id == item_id)
            .values(status=FAILED, last_error=error, lease_owner=None, lease_until=None)
        )

    def cancel_for(self, subscription_id: str, reason: str) -> int:
        """Fail every pending item of a subscription (deleted or deactivated); how many."""
        c = _N.c
        result = self.conn.execute(
            _N.update()
            .where(c.subscription_id == subscription_id, c.status == PENDING)
            .values(status=FAILED, last_error=reason, lease_owner=None, lease_until=None)
        )
        return int(result.rowcount)

    def pending_count(self, subscription_id: str) -> int:
        c = _N.c
        stmt = (
            sa.select(sa.func.count())
            .select_from(_N)
            .where(c.subscription_id == subscription_id, c.status == PENDING)
        )
        return int(self.conn.execute(stmt).scalar_one())


__all__ = ["TwinNotifications", "TwinSubscriptions"]
