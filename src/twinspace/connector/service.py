"""One participant's connector: the services, the outbound manager, and their lifecycle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from twinspace.clock import Clock, SystemClock
from twinspace.connector.catalog import Catalog
from twinspace.connector.context import Context
from twinspace.connector.dispatcher import HttpDispatcher
from twinspace.connector.manager import OutboxManager, Pusher
from twinspace.connector.negotiations import Negotiations
from twinspace.connector.transfers import Transfers
from twinspace.settings import Settings
from twinspace.store import Store


class Connector:
    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        clock: Clock | None = None,
        http_client: httpx.AsyncClient | None = None,
        pusher_factory: Callable[[Connector], Pusher] | None = None,
    ) -> None:
        self.store = store or Store.open(settings.effective_database_url())
        self.ctx = Context(
            settings=settings,
            store=self.store,
            clock=clock or SystemClock(),
            catalog=Catalog(settings.participant_id, settings.dsp_url()),
        )
        self._own_client = http_client is None
        self.http = http_client or httpx.AsyncClient(timeout=settings.send_timeout)
        self.negotiations = Negotiations(self.ctx)
        self.transfers = Transfers(self.ctx)
        pusher: Pusher | None = pusher_factory(self) if pusher_factory else None
        self.manager = OutboxManager(
            self.ctx,
            self.negotiations,
            self.transfers,
            HttpDispatcher(self.http, settings.participant_id, settings.send_timeout),
            pusher,
        )

    def wake(self) -> None:
        self.manager.wake()

    def catalog_page(self, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        with self.store.transaction() as tx:
            datasets = self.ctx.catalog.datasets(tx)
        return datasets[offset : offset + limit], len(datasets)

    def dataset(self, dataset_id: str) -> dict[str, Any] | None:
        with self.store.transaction() as tx:
            asset = tx.assets.find(dataset_id)
            return None if asset is None else self.ctx.catalog.dataset(tx, asset)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Connector]:
        """Run the outbound manager (if enabled) for the duration of the block."""
        stop = asyncio.Event()
        task = None
        if self.ctx.settings.run_managers:
            task = asyncio.create_task(
                self.manager.run(stop), name=f"manager-{self.ctx.settings.name}"
            )
        try:
            yield self
        finally:
            stop.set()
            if task is not None:
                await task
            if self._own_client:
                await self.http.aclose()
