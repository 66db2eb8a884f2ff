"""The twin in the data space: twin queries as catalog assets, pulled or streamed.

``TwinSharing`` is the connector's data-plane extension for ``NgsiLdQuery`` assets
(``connector.context.AssetKind``):

- ``check`` validates an asset's address when it is created or updated;
- ``open`` serves a pull (``HttpData-PULL``, or a one-shot ``HttpData-PUSH``): the query's
  result (or, with a time range, its temporal evolution; with ``view.aggregate``, only its
  aggregates) as ``application/json`` plus the context ``Link``, the view applied;
- ``transfer_changed`` follows an ``NgsiLd-PUSH`` stream in the transaction that changes it:
  STARTED creates (or renews) a subscription owned by ``transfer:<id>`` in the provider's twin and
  queues a snapshot of what matches now; a queued or acknowledged suspension pauses it;
  completion or termination deletes it and cancels what it had queued;
- ``filter`` (the notifier's hook for owner prefix ``transfer:``) applies the view to every
  entity of every notification;
- ``receive`` is the consumer's side: a notification pushed to ``/public/twin/{transfer_id}``
  is upserted into its own twin.

A subscription is active exactly while its transfer is STARTED and not being stopped (both change
in one transaction), so the filter needs no read of the transfer per entity. The subscription
carries the asset's address it was built from; an asset update renews the running streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from twinspace.connector.catalog import FORMATS, TWIN_PUSH
from twinspace.dataplane.push import authorization_header
from twinspace.dataplane.received import StreamRefused
from twinspace.dataplane.sources import SourceError, SourceStream, generated
from twinspace.protocol.messages import endpoint_properties
from twinspace.protocol.transfer import TP
from twinspace.store import Asset, Transfer, Tx
from twinspace.store.twin_rows import NotificationRow, SubscriptionRow
from twinspace.twin.context import TermMap
from twinspace.twin.errors import NgsiError
from twinspace.twin.notification import notification_headers, notification_payload
from twinspace.twin.service import Twin
from twinspace.twin.sharing import (
    TWIN_TYPE,
    AssetError,
    TwinQuery,
    asset_context,
    current_page,
    parse_twin_query,
    shaper,
    temporal_ids,
    temporal_page,
)
from twinspace.twin.subscription import CONTEXT_REL, parse_subscription
from twinspace.twin.view import pseudonym

log = logging.getLogger("twinspace.twin.dataspace")

Entity = dict[str, Any]
OWNER_PREFIX = "transfer:"
#: Where a data-space subscription keeps what it was built from (transfer, asset, address).
ORIGIN = "https://w3id.org/twinspace/dataspace#origin"
SECRET_FILE = "twin-pseudonym.key"
PAGE = 200
SNAPSHOT_CHUNK = 500


def load_secret(data_dir: Path) -> bytes:
    """The participant's pseudonymization key, created (0600) on first use."""
    path = data_dir / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def _queue_id() -> str:
    return f"{time.time_ns():016x}0000{uuid.uuid4().hex[:12]}"


_LINK = re.compile(r"<([^>]*)>\s*((?:;[^,]*)?)")


def context_url(link: str) -> str:
    """The JSON-LD context URL of a ``Link`` header; StreamRefused if there is none."""
    for match in _LINK.finditer(link):
        if CONTEXT_REL in match.group(2):
            url = match.group(1).strip()
            if url.startswith(("http://", "https://", "urn:")):
                return url
    raise StreamRefused(400, f"the Link header names no JSON-LD context URL: {link[:200]!r}")


def link_header(context: list[str | dict[str, Any]]) -> str | None:
    if len(context) == 1 and isinstance(context[0], str):
        return f'<{context[0]}>; rel="{CONTEXT_REL}"; type="application/ld+json"'
    return None


class TwinSharing:
    def __init__(self, twin: Twin, data_dir: Path) -> None:
        self.twin = twin
        self.data_dir = data_dir
        self._secret: bytes | None = None
        self._parsed: dict[str, TwinQuery] = {}

    # --- the asset -----------------------------------------------------------------------------

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = load_secret(self.data_dir)
        return self._secret

    def terms_for(self, address: Mapping[str, Any]) -> TermMap:
        context = asset_context(address)
        try:
            return self.twin.contexts.cached_term_map(context)
        except NgsiError as exc:
            raise AssetError(
                f"context: {exc.detail} (use a bundled context, one in the preload folder, "
                "or one hosted at /ngsi-ld/v1/jsonldContexts)"
            ) from None

    def parse(self, address: Mapping[str, Any]) -> TwinQuery:
        key = json.dumps(address, sort_keys=True, default=str)
        found = self._parsed.get(key)
        if found is None:
            if len(self._parsed) > 1024:
                self._parsed.clear()
            found = self._parsed[key] = parse_twin_query(address, self.terms_for(address))
        return found

    def check(self, address: Mapping[str, Any]) -> None:
        self.parse(address)

    def formats(self, address: Mapping[str, Any]) -> tuple[str, ...]:
        try:
            aggregated = self.parse(address).view.aggregate is not None
        except AssetError:
            return ()
        return () if aggregated else (TWIN_PUSH,)

    def refusal(self, asset: Asset, fmt: str) -> str | None:
        if fmt in FORMATS:
            return None
        if fmt != TWIN_PUSH:
            return f"format {fmt!r} is not offered for twin asset {asset.id!r}"
        try:
            query = self.parse(asset.data_address)
        except AssetError as exc:
            return f"twin asset {asset.id!r} is not usable: {exc}"
        if query.view.aggregate is not None:
            return (
                f"twin asset {asset.id!r} is shared aggregated only (view.aggregate): it cannot "
                f"be streamed as {TWIN_PUSH}; pull its aggregates with HttpData-PULL"
            )
        return None

    # --- pull ----------------------------------------------------------------------------------

    async def open(self, address: Mapping[str, Any], asset_id: str, _query: str) -> SourceStream:
        try:
            query = self.parse(address)
            terms = self.terms_for(address)
        except AssetError as exc:
            raise SourceError(f"the twin asset is not usable: {exc}") from None
        pages = (
            self._temporal(query, terms, asset_id)
            if query.time is not None or query.view.aggregate is not None
            else self._current(query, terms, asset_id)
        )

        async def parts() -> AsyncIterator[bytes]:
            yield b"["
            first = True
            async for items in pages:
                for item in items:
                    yield (b"" if first else b",") + json.dumps(item).encode()
                    first = False
            yield b"]"

        link = link_header(query.context)
        return generated(parts(), "application/json", headers={"Link": link} if link else None)

    async def _current(
        self, query: TwinQuery, terms: TermMap, asset_id: str
    ) -> AsyncIterator[list[Entity]]:
        shape = shaper(query, self.secret, asset_id)

        def page(after: str | None) -> tuple[list[Entity], str | None]:
            with self.twin.store.transaction() as tx:
                return current_page(tx, query, terms, shape, after=after, size=PAGE)

        after: str | None = None
        while True:
            items, after = await asyncio.to_thread(page, after)
            yield items
            if after is None:
                return

    async def _temporal(
        self, query: TwinQuery, terms: TermMap, asset_id: str
    ) -> AsyncIterator[list[Entity]]:
        def ids() -> list[tuple[str, list[str]]]:
            with self.twin.store.transaction() as tx:
                return temporal_ids(tx, query, terms)

        def page(part: list[tuple[str, list[str]]]) -> list[Entity]:
            with self.twin.store.transaction() as tx:
                return temporal_page(tx, query, terms, part, self.secret, asset_id)

        found = await asyncio.to_thread(ids)
        step = max(PAGE // 4, 1)
        for start in range(0, len(found), step):
            yield await asyncio.to_thread(page, found[start : start + step])

    # --- the stream (provider) -----------------------------------------------------------------

    def transfer_changed(
        self, tx: Tx, t: Transfer, asset: Asset | None, now: datetime, *, stopping: bool = False
    ) -> None:
        owner = f"{OWNER_PREFIX}{t.id}"
        rows = tx.twin_subscriptions.by_owner(owner)
        if asset is None or t.state in (TP.COMPLETED, TP.TERMINATED):
            self._drop(tx, rows, f"transfer {t.id} is {t.state}" if asset else "asset deleted")
            return
        if t.state != TP.STARTED or stopping:
            for row in rows:
                if row.active:
                    row.active = False
                    row.doc = {**row.doc, "isActive": False}
                    row.modified_at = now
                    tx.twin_subscriptions.replace(row)
                    tx.twin_notifications.cancel_for(row.id, f"transfer {t.id} stopped")
            return
        live = [r for r in rows if r.active]
        if live and live[0].doc.get(ORIGIN, {}).get("address") == asset.data_address:
            return  # already streaming this definition
        try:
            query = self.parse(asset.data_address)
        except AssetError as exc:
            log.warning("transfer %s: twin asset %s unusable: %s", t.id, asset.id, exc)
            self._drop(tx, rows, f"asset unusable: {exc}")
            return
        if query.view.aggregate is not None:
            self._drop(tx, rows, "asset is aggregated only")
            return
        self._drop(tx, rows, "renewed")  # a resumed or redefined stream starts afresh
        terms = self.terms_for(asset.data_address)
        sub = self._subscription(t, asset, query, terms, now)
        tx.twin_tenants.ensure(query.tenant, now)
        tx.twin_subscriptions.add(
            SubscriptionRow(
                id=sub["id"],
                tenant=query.tenant,
                doc=sub,
                created_at=now,
                modified_at=now,
                owner=owner,
            )
        )
        self._snapshot(tx, query, terms, sub, asset.id, now)

    @staticmethod
    def _drop(tx: Tx, rows: list[SubscriptionRow], reason: str) -> None:
        for row in rows:
            tx.twin_subscriptions.delete(row.tenant, row.id)
            tx.twin_notifications.cancel_for(row.id, f"subscription deleted: {reason}")

    def _subscription(
        self, t: Transfer, asset: Asset, query: TwinQuery, terms: TermMap, now: datetime
    ) -> dict[str, Any]:
        destination = t.data_destination or {}
        auth = endpoint_properties(destination).get("authorization")
        endpoint: dict[str, Any] = {
            "uri": destination.get("endpoint"),
            "accept": "application/json",
        }
        if auth:
            endpoint["receiverInfo"] = [
                {"key": "Authorization", "value": authorization_header(auth)}
            ]
        notification: dict[str, Any] = {"endpoint": endpoint, "format": "normalized"}
        payload: dict[str, Any] = {
            "type": "Subscription",
            "subscriptionName": f"data space transfer {t.id}",
            "description": f"asset {asset.id} streamed to {t.counter_party_id}",
            "entities": [{"type": name} for name in query.type_names()],
            "notification": notification,
        }
        if query.attrs:
            payload["watchedAttributes"] = list(query.attrs)
            notification["attributes"] = list(query.attrs)
        if query.q_text:
            payload["q"] = query.q_text
        if query.geoq:
            payload["geoQ"] = dict(query.geoq)
        sub = parse_subscription(payload, terms, now, context=query.context)
        sub[ORIGIN] = {"transfer": t.id, "asset": asset.id, "address": asset.data_address}
        return sub

    def _snapshot(
        self,
        tx: Tx,
        query: TwinQuery,
        terms: TermMap,
        sub: dict[str, Any],
        asset_id: str,
        now: datetime,
    ) -> None:
        """Queue what matches now, so the consumer's twin is filled at once."""
        shape = shaper(query, self.secret, asset_id)
        after: str | None = None
        batch: list[Entity] = []
        while True:
            items, after = current_page(
                tx, query, terms, shape, after=after, size=PAGE, render=False
            )
            batch.extend(items)
            if len(batch) >= SNAPSHOT_CHUNK or (after is None and batch):
                tx.twin_notifications.enqueue_many(
                    [
                        NotificationRow(
                            id=_queue_id(),
                            tenant=query.tenant,
                            subscription_id=sub["id"],
                            endpoint={
                                "uri": sub["notification"]["endpoint"]["uri"],
                                "headers": notification_headers(sub, query.tenant),
                            },
                            payload=notification_payload(sub, batch, terms, now),
                            next_attempt_at=now,
                            created_at=now,
                        )
                    ]
                )
                batch = []
            if after is None:
                break
        self.twin.notifier.wake()

    def filter(self, row: SubscriptionRow, entity: Entity) -> Entity | None:
        """The notifier's hook: what the consumer of a stream may see of ``entity``."""
        origin = row.doc.get(ORIGIN)
        if not isinstance(origin, dict):
            return None
        query = self.parse(origin["address"])
        scope = str(origin["asset"])
        if "deletedAt" in entity:  # only the id and type remain: the area cannot be judged
            if query.view.within is not None:
                return None
            if query.view.pseudonymize:
                types = entity.get("type") or ["Entity"]
                return {**entity, "id": pseudonym(self.secret, scope, entity["id"], types[0])}
            return entity
        return shaper(query, self.secret, scope)(entity)

    # --- the stream (consumer) -----------------------------------------------------------------

    async def receive(
        self, t: Transfer, body: bytes, content_type: str, link: str | None
    ) -> dict[str, int]:
        """Apply a pushed Notification to this twin (tenant of the transfer's destination)."""
        tenant = str((t.data_destination or {}).get("tenant") or "")
        media = content_type.split(";")[0].strip().lower()
        if media not in ("application/json", "application/ld+json"):
            raise StreamRefused(
                415, f"a notification is application/json or ld+json, not {media!r}"
            )
        try:
            doc = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StreamRefused(400, f"the notification is not valid JSON: {exc}") from None
        if not isinstance(doc, dict) or doc.get("type") != "Notification":
            raise StreamRefused(400, "the body must be an NGSI-LD Notification (type Notification)")
        data = doc.get("data")
        if not isinstance(data, list):
            raise StreamRefused(400, "the notification's data must be an array of entities")
        context: Any = None
        if media == "application/json" and link:
            context = [context_url(link)]
        upserts: list[Entity] = []
        deletes: list[str] = []
        for index, item in enumerate(data):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise StreamRefused(400, f"data[{index}] is not an entity with an id")
            if "type" not in item:
                raise StreamRefused(400, f"data[{index}] ({item['id']}) has no type")
            if media == "application/ld+json":
                if "@context" not in item:
                    raise StreamRefused(400, f"data[{index}] has no @context (ld+json)")
                mine = (
                    item["@context"] if isinstance(item["@context"], list) else [item["@context"]]
                )
                if context is not None and mine != context:
                    raise StreamRefused(400, "the entities of one notification differ in @context")
                context = mine
            if "deletedAt" in item:
                deletes.append(item["id"])
            else:
                upserts.append({k: v for k, v in item.items() if k != "@context"})
        try:
            await self.twin.terms(context)  # an unknown context fails before anything is applied
        except NgsiError as exc:
            raise StreamRefused(
                400, f"the notification's @context is not usable: {exc.detail}"
            ) from None
        applied = 0
        if upserts:
            result = await self.twin.upsert(tenant, upserts, context)
            if result.errors:
                reasons = "; ".join(
                    f"{e['entityId']}: {e['error'].get('detail', '')}" for e in result.errors
                )
                raise StreamRefused(
                    400, f"{len(result.errors)} of {len(upserts)} entities refused: {reasons}"
                )
            applied = len(result.success)
        for entity_id in deletes:
            with contextlib.suppress(NgsiError):  # never received, or deleted already
                await asyncio.to_thread(self.twin.broker.delete, tenant, entity_id)
        return {"upserted": applied, "deleted": len(deletes)}

    def install(self, connector: Any) -> None:
        """Make ``connector`` serve ``NgsiLdQuery`` assets and receive streams with this twin."""
        key = TWIN_TYPE.lower()
        connector.ctx.kinds[key] = self
        connector.sources[key] = self.open
        connector.stream_receiver = self.receive
        self.twin.notifier.filters[OWNER_PREFIX] = self.filter
        if self.twin.pool is not None:  # its writers filter the same way, with the same key
            _ = self.secret  # created here, before any writer reads it
            self.twin.pool.share(self.data_dir)


__all__ = ["OWNER_PREFIX", "TWIN_TYPE", "TwinSharing", "load_secret"]
