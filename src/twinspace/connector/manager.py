"""The outbound manager: claims due messages by lease, sends them, and applies acknowledgements.

Several managers (connector replicas) may share one database: a message is leased by exactly one
of them (see ``Outbox.claim``). A failed delivery is retried with exponential backoff; after
``max_attempts`` the process is terminated with the reason. Nothing hangs silently: every
outbound message keeps its attempts, last error and next retry time.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from twinspace.connector.context import Context
from twinspace.connector.dispatcher import Delivery, Dispatcher
from twinspace.connector.negotiations import Negotiations
from twinspace.connector.processes import machine_state
from twinspace.connector.transfers import PUSH_JOB, Transfers
from twinspace.dataplane import tokens
from twinspace.protocol import messages as m
from twinspace.protocol.machine import Role
from twinspace.protocol.negotiation import CN, NEGOTIATION, CNMessage
from twinspace.protocol.transfer import TP, TRANSFER, TPMessage
from twinspace.retry import backoff
from twinspace.store import Conflict, OutboxItem, Tx

log = logging.getLogger("twinspace.manager")

#: Runs a push job; returns the number of bytes sent or raises with the reason.
Pusher = Callable[[OutboxItem], Awaitable[int]]


class OutboxManager:
    def __init__(
        self,
        ctx: Context,
        negotiations: Negotiations,
        transfers: Transfers,
        dispatcher: Dispatcher,
        pusher: Pusher | None = None,
        owner: str | None = None,
        concurrency: int = 16,
    ) -> None:
        self.ctx = ctx
        self.negotiations = negotiations
        self.transfers = transfers
        self.dispatcher = dispatcher
        self.pusher = pusher
        self.owner = owner or f"{ctx.settings.name}-{uuid.uuid4().hex[:8]}"
        self.concurrency = concurrency
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Ask the loop to look for due work now (safe to call from any thread)."""
        try:
            loop = self._loop
        except AttributeError:
            return
        loop.call_soon_threadsafe(self._wake.set)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                busy = await self.run_once()
            except Exception:  # keep the loop alive; the failure is logged with its traceback
                log.exception("outbound manager iteration failed")
                busy = 0
            if busy:
                continue
            self._wake.clear()
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait(
                {waiter, stopper},
                timeout=self.ctx.settings.manager_interval,
                return_when=asyncio.FIRST_COMPLETED,
            )
            waiter.cancel()
            stopper.cancel()

    async def run_once(self, limit: int = 64) -> int:
        """Claim and process what is due now; returns how many messages were handled."""
        claimed = await asyncio.to_thread(self._claim, limit)
        if not claimed:
            return 0
        gate = asyncio.Semaphore(self.concurrency)

        async def one(item: OutboxItem) -> None:
            async with gate:
                await self._process(item)

        await asyncio.gather(*(one(i) for i in claimed))
        return len(claimed)

    async def drain(self, rounds: int = 100) -> None:
        """Process until nothing is due (for tests and the CLI)."""
        for _ in range(rounds):
            if not await self.run_once():
                return

    def _claim(self, limit: int) -> list[OutboxItem]:
        now = self.ctx.clock.now()
        until = now + timedelta(seconds=self.ctx.settings.lease_seconds)
        with self.ctx.store.transaction() as tx:
            ids = tx.outbox.due_ids(now, limit)
        if not ids:
            return []
        claimed = []
        # One transaction for the batch; rows are locked in id order so that two replicas
        # claiming overlapping batches wait for each other instead of deadlocking.
        with self.ctx.store.transaction() as tx:
            for item_id in sorted(ids):
                item = tx.outbox.claim(item_id, self.owner, now, until)
                if item is not None:
                    claimed.append(item)
        return claimed

    async def _process(self, item: OutboxItem) -> None:
        if item.process_kind == PUSH_JOB:
            await self._push(item)
            return
        delivery = await self.dispatcher.send(item.url, item.payload, item.audience)
        if delivery.ok:
            await asyncio.to_thread(self._with_retry, self._acknowledged, item, delivery)
        else:
            final = self._refused_outright(item, delivery)
            await asyncio.to_thread(
                self._with_retry, self._failed, item, delivery.error or "failed", final
            )

    @staticmethod
    def _refused_outright(item: OutboxItem, delivery: Delivery) -> bool:
        """A 4xx answer to an initial request is final: no process exists there to race with."""
        initial = item.message_type in (
            CNMessage.REQUEST,
            TPMessage.REQUEST,
        ) and not item.payload.get("providerPid")
        status = delivery.status or 0
        return initial and 400 <= status < 500 and status not in (408, 425, 429)

    async def _push(self, item: OutboxItem) -> None:
        if self.pusher is None:
            await asyncio.to_thread(self._failed, item, "this connector has no data plane pusher")
            return
        try:
            nbytes = await self.pusher(item)
        except Exception as exc:
            await asyncio.to_thread(self._with_retry, self._failed, item, f"push failed: {exc}")
            return
        with self.ctx.store.transaction() as tx:
            done = tx.outbox.mark_sent(item.id, self.owner, self.ctx.clock.now())
        if done:
            await asyncio.to_thread(self.transfers.pushed, item.process_id, nbytes)
        self.wake()

    @staticmethod
    def _with_retry(fn: Callable[..., None], *args: Any) -> None:
        for attempt in range(5):
            try:
                fn(*args)
                return
            except Conflict:
                if attempt == 4:
                    raise

    def _service(self, item: OutboxItem) -> tuple[Any, Any, Any]:
        if item.process_kind == "negotiation":
            return NEGOTIATION, self.negotiations, "negotiations"
        return TRANSFER, self.transfers, "transfers"

    def _acknowledged(self, item: OutboxItem, delivery: Delivery) -> None:
        now = self.ctx.clock.now()
        machine, service, table = self._service(item)
        with self.ctx.store.transaction() as tx:
            if not tx.outbox.mark_sent(item.id, self.owner, now):
                return  # acknowledged implicitly meanwhile, or the lease was lost
            rows = getattr(tx, table)
            process = rows.get(item.process_id)
            role, state = Role(process.role), machine_state(process)
            if not machine.allows(role, state, item.message_type):
                log.warning(
                    "acknowledged %s no longer applies to %s in %s",
                    item.message_type,
                    process.id,
                    process.state,
                )
                return
            service.on_ack(
                tx, process, item, delivery.body if isinstance(delivery.body, dict) else None, now
            )
            process.state = machine.next_state(role, state, item.message_type)
            process.updated_at = now
            service.after_ack(tx, process, now)
            rows.update_versioned(process)
        self.wake()

    def _failed(self, item: OutboxItem, error: str, final: bool = False) -> None:
        now = self.ctx.clock.now()
        s = self.ctx.settings
        with self.ctx.store.transaction() as tx:
            if not final and item.attempts < s.max_attempts:
                delay = backoff(item.attempts - 1, s.backoff_base, s.backoff_max)
                tx.outbox.mark_retry(item.id, self.owner, error, now + timedelta(seconds=delay))
                log.info(
                    "%s to %s failed (attempt %d), retry in %.2fs: %s",
                    item.message_type,
                    item.url,
                    item.attempts,
                    delay,
                    error,
                )
                return
            tx.outbox.mark_failed(item.id, error)
            if final:
                detail = f"{item.message_type} refused by the counter-party: {error}"
            else:
                detail = f"gave up delivering {item.message_type} after {item.attempts} attempts: {error}"
            self._give_up(tx, item, detail)
        self.wake()

    def _give_up(self, tx: Tx, item: OutboxItem, detail: str) -> None:
        """Terminate the process after the last failed attempt, telling the counter-party if we can."""
        machine, _service, table = self._service(item)
        rows = getattr(tx, table)
        process = rows.get(item.process_id)
        terminated = CN.TERMINATED if machine is NEGOTIATION else TP.TERMINATED
        if process.state in machine.terminal:
            return
        now = self.ctx.clock.now()
        known = process.state != "INITIAL"
        process.error_detail = detail
        process.state = terminated
        process.updated_at = now
        tx.outbox.cancel_pending(process.id, "process terminated: " + process.error_detail)
        rows.update_versioned(process)
        if table == "transfers":
            tokens.revoke(tx, process.id, now)
            self.transfers.follow(tx, process, now)  # a twin stream ends with it
        was_termination = item.message_type in (CNMessage.TERMINATION, TPMessage.TERMINATION)
        if known and not was_termination:
            self._courtesy_termination(tx, item, process)
        log.warning("%s %s terminated: %s", table[:-1], process.id, process.error_detail)

    def _courtesy_termination(self, tx: Tx, item: OutboxItem, process: Any) -> None:
        pids = {
            "provider_pid": process.provider_pid or "",
            "consumer_pid": process.consumer_pid or "",
        }
        reason = process.error_detail
        if item.process_kind == "negotiation":
            message = m.negotiation_termination(code="DELIVERY_FAILED", reason=reason, **pids)
            self.negotiations._send(
                tx,
                process,
                message,
                f"negotiations/{self._their_pid(process)}/termination",
                self.ctx.clock.now(),
            )
        else:
            message = m.transfer_termination(code="DELIVERY_FAILED", reason=reason, **pids)
            self.transfers._send(tx, process, message, self.ctx.clock.now())

    @staticmethod
    def _their_pid(process: Any) -> str:
        return str(process.provider_pid if process.role == Role.CONSUMER else process.consumer_pid)
