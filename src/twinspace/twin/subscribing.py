"""Subscriptions kept in the store (CIM 009 clauses 5.8.1-5.8.5): create, read, list, update,
delete; ``twin.subscription`` parses and matches, ``twin.notifier`` delivers."""

from __future__ import annotations

from typing import Any

from twinspace.clock import Clock
from twinspace.store import AlreadyExists, Store
from twinspace.store.twin_rows import SubscriptionRow
from twinspace.twin.broker import parse_time
from twinspace.twin.context import TermMap
from twinspace.twin.entity import is_uri
from twinspace.twin.errors import NgsiError
from twinspace.twin.notifier import delivery_status
from twinspace.twin.subscription import merge_subscription, parse_subscription

Context = list[str | dict[str, Any]] | None


def _row_of(
    tenant: str, sub: dict[str, Any], row: SubscriptionRow | None, clock: Clock, owner: str | None
) -> SubscriptionRow:
    now = clock.now()
    expires = parse_time(sub.get("expiresAt"))
    if row is None:
        return SubscriptionRow(
            id=sub["id"],
            tenant=tenant,
            doc=sub,
            created_at=now,
            modified_at=now,
            active=bool(sub.get("isActive", True)),
            expires_at=expires,
            owner=owner,
        )
    row.doc = sub
    row.modified_at = now
    row.active = bool(sub.get("isActive", True))
    row.expires_at = expires
    return row


def _check_id(sub_id: str) -> None:
    if not is_uri(sub_id):
        raise NgsiError("BadRequestData", f"{sub_id!r} is not a valid subscription id (a URI)")


class Subscriptions:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def create(
        self,
        tenant: str,
        payload: Any,
        terms: TermMap,
        context: Context,
        *,
        owner: str | None = None,
    ) -> str:
        sub = parse_subscription(payload, terms, self.clock.now(), context=context)
        try:
            with self.store.transaction() as tx:
                tx.twin_tenants.ensure(tenant, self.clock.now())
                tx.twin_subscriptions.add(_row_of(tenant, sub, None, self.clock, owner))
        except AlreadyExists:
            raise NgsiError(
                "AlreadyExists", f"the subscription {sub['id']!r} already exists"
            ) from None
        return str(sub["id"])

    def _get(self, tenant: str, sub_id: str) -> SubscriptionRow:
        _check_id(sub_id)
        with self.store.transaction() as tx:
            row = tx.twin_subscriptions.get(tenant, sub_id)
        if row is None:
            raise NgsiError("ResourceNotFound", f"no subscription {sub_id!r}")
        return row

    def get(self, tenant: str, sub_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The subscription and its status (``render_subscription``'s inputs)."""
        row = self._get(tenant, sub_id)
        return row.doc, delivery_status(row, self.clock.now())

    def list(
        self, tenant: str, offset: int, limit: int
    ) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], int]:
        now = self.clock.now()
        with self.store.transaction() as tx:
            rows = tx.twin_subscriptions.list(tenant, offset=offset, limit=limit)
            total = tx.twin_subscriptions.count(tenant)
        return [(r.doc, delivery_status(r, now)) for r in rows], total

    def update(self, tenant: str, sub_id: str, fragment: Any, terms: TermMap) -> None:
        _check_id(sub_id)
        with self.store.transaction() as tx:
            row = tx.twin_subscriptions.get(tenant, sub_id)
            if row is None:
                raise NgsiError("ResourceNotFound", f"no subscription {sub_id!r}")
            sub = merge_subscription(row.doc, fragment, terms, self.clock.now())
            tx.twin_subscriptions.replace(_row_of(tenant, sub, row, self.clock, row.owner))

    def delete(self, tenant: str, sub_id: str) -> None:
        _check_id(sub_id)
        with self.store.transaction() as tx:
            if not tx.twin_subscriptions.delete(tenant, sub_id):
                raise NgsiError("ResourceNotFound", f"no subscription {sub_id!r}")
            tx.twin_notifications.cancel_for(sub_id, "the subscription was deleted")
