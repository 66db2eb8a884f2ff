"""One participant's twin, assembled: the broker, queries, temporal API, subscriptions, contexts
and the MQTT ingest.

``Twin`` is what the HTTP routes, the MQTT ingest and the data-space adapters talk to; it does no
I/O of its own beyond what is injected (store, clock, HTTP client, MQTT address).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool

from twinspace.clock import Clock, SystemClock
from twinspace.store import Store
from twinspace.store import twin_tables as tt
from twinspace.store.db import sqlite_path
from twinspace.store.records import FAILED, PENDING, SENT
from twinspace.twin.broker import BatchResult, Broker, timestamp
from twinspace.twin.context import ContextLoader, TermMap
from twinspace.twin.history import History
from twinspace.twin.models import ModelCheck
from twinspace.twin.mqtt import MqttIngest, Refused
from twinspace.twin.notifier import Filter, Notifier
from twinspace.twin.subscribing import Subscriptions
from twinspace.twin.writers import WriterConfig, WriterPool

log = logging.getLogger("twinspace.twin")
Context = list[str | dict[str, Any]] | None


@dataclass(frozen=True)
class TwinLimits:
    default_limit: int = 20
    max_limit: int = 1000
    max_body_bytes: int = 16 * 1024 * 1024
    max_batch: int = 10_000


@dataclass(frozen=True)
class MqttSource:
    """Where sensors publish (``mqtt://host:port``), under which prefix, with which context."""

    host: str
    port: int
    prefix: str = "twinspace/ngsi-ld"
    context: str | None = None
    client_id: str | None = None

    @classmethod
    def from_url(cls, url: str, **kw: Any) -> MqttSource:
        parsed = httpx.URL(url.replace("mqtt://", "http://", 1))
        if not url.startswith("mqtt://") or not parsed.host:
            raise ValueError(f"an MQTT URL looks like mqtt://host:port, not {url!r}")
        return cls(host=parsed.host, port=parsed.port or 1883, **kw)


class Twin:
    def __init__(
        self,
        store: Store,
        client: httpx.AsyncClient,
        *,
        clock: Clock | None = None,
        context_dir: Path | None = None,
        context_timeout: float = 3.0,
        base_url: str = "http://127.0.0.1:8181",
        validate_models: bool = True,
        limits: TwinLimits | None = None,
        notify_attempts: int = 8,
        mqtt: MqttSource | None = None,
        filters: dict[str, Filter] | None = None,
        writers: int = 0,
        gc_threshold: int = 0,
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.limits = limits or TwinLimits()
        self.base_url = base_url.rstrip("/")
        self.mqtt = mqtt
        self.contexts = ContextLoader(
            client,
            preload_dir=context_dir,
            timeout=context_timeout,
            clock=self.clock,
            base_url=f"{self.base_url}/ngsi-ld/v1/jsonldContexts",
        )
        self.notifier = Notifier(
            store=store,
            clock=self.clock,
            client=client,
            terms_for=self.contexts.cached_term_map,
            filters=filters,
            max_attempts=notify_attempts,
        )
        self.broker = Broker(
            store,
            clock=self.clock,
            sink=self.notifier,
            models=ModelCheck() if validate_models else None,
            max_batch=self.limits.max_batch,
        )
        self.pool = self._writer_pool(writers, context_dir, validate_models, gc_threshold)
        self.history = History(store, self.clock)
        self.subscriptions = Subscriptions(store, self.clock)
        self.ingest: Any = None  # the MqttIngest while running

    def _writer_pool(
        self, count: int, context_dir: Path | None, validate_models: bool, gc_threshold: int
    ) -> WriterPool | None:
        """The writer processes (started by ``running``), when asked for and possible."""
        if count < 1:
            return None
        url = self.store.engine.url
        if url.get_backend_name() == "sqlite" and sqlite_path(str(url)) is None:
            log.warning("twin writers need a database file or server; an in-memory one has none")
            return None
        config = WriterConfig(
            database_url=url.render_as_string(hide_password=False),
            validate_models=validate_models,
            context_dir=context_dir,
            gc_threshold=gc_threshold,
        )
        return WriterPool(config, count, wake=self.notifier.wake)

    async def terms(self, context: Context) -> TermMap:
        """The term map for a request's @context (core context alone when None)."""
        return await self.contexts.term_map(list(context or []))

    def now(self) -> str:
        return timestamp(self.clock.now())

    async def upsert(
        self, tenant: str, entities: list[dict[str, Any]], context: Context
    ) -> BatchResult:
        """Batch upsert (update mode: attributes not sent are kept), as the ingest paths use it;
        refused entities are logged with their reason (never silently dropped)."""
        terms = await self.terms(context)
        result = await run_in_threadpool(
            lambda: self.broker.batch_upsert(tenant, entities, terms, update=True)
        )
        for error in result.errors:
            log.warning(
                "ingest refused %s: %s", error["entityId"], error["error"].get("detail", "")
            )
        self.notifier.wake()
        return result

    async def _mqtt_upsert(
        self, tenant: str, entities: list[dict[str, Any]], context: Context
    ) -> None:
        result = await self.upsert(tenant, entities, context)
        if result.errors:  # the others were applied; the ingest reports these messages
            raise Refused({e["entityId"]: str(e["error"].get("detail", "")) for e in result.errors})

    def status(self) -> dict[str, Any]:
        """The MQTT ingest's state, the notification outbox by state, subscriptions, tenants."""
        n = tt.twin_notifications.c
        with self.store.transaction() as tx:
            by_state: dict[str, int] = dict(
                tx.conn.execute(sa.select(n.status, sa.func.count()).group_by(n.status)).all()
            )
            subscriptions = tx.conn.execute(
                sa.select(sa.func.count()).select_from(tt.twin_subscriptions)
            ).scalar_one()
            tenants = ["", *tx.twin_tenants.list()]
        return {
            "mqtt": None if self.ingest is None else self.ingest.status(),
            "notifications": {
                "pending": int(by_state.get(PENDING, 0)),
                "sent": int(by_state.get(SENT, 0)),
                "failed": int(by_state.get(FAILED, 0)),
            },
            "subscriptions": int(subscriptions),
            "tenants": tenants,
            "writers": None if self.pool is None else self.pool.status().body(),
        }

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Twin]:
        """Deliver notifications, and ingest MQTT messages when configured, for the block."""
        if self.pool is not None:  # spawning imports twinspace in each: not on the event loop
            await asyncio.to_thread(self.pool.start)
            self.broker.writers = self.pool
        stop = asyncio.Event()
        tasks = [asyncio.create_task(self.notifier.run(stop), name="twin-notifier")]
        if self.mqtt is not None:
            self.ingest = MqttIngest(
                host=self.mqtt.host,
                port=self.mqtt.port,
                prefix=self.mqtt.prefix,
                upsert=self._mqtt_upsert,
                client_id=self.mqtt.client_id,
                default_context=[self.mqtt.context] if self.mqtt.context else None,
            )
            tasks.append(asyncio.create_task(self.ingest.run(), name="twin-mqtt"))
        try:
            yield self
        finally:
            stop.set()
            for task in tasks[1:]:
                task.cancel()
            for task in tasks:
                with suppress(asyncio.CancelledError):
                    await task
            if self.pool is not None:
                self.broker.writers = None
                await asyncio.to_thread(self.pool.stop)
