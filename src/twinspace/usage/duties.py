"""Duties the consumer carries out under its agreements: delete-after, notify, log.

When a transfer it asked for has started (pull) or delivered (push), the consumer reads the
agreement's duties and schedules them (idempotently: one record per transfer and duty):

``delete``            delete the received copy (``<data_dir>/received/<transfer>``) by the
                      duty's deadline (``dateTime lteq ...``) or after its ``elapsedTime``
                      (counted from the start of the transfer); without a deadline, at once
``inform``/``notify`` tell the provider that the data was used (DSP-authenticated message to
                      ``<provider dsp>/usage/notifications``), recorded on both sides
``log``               record the use in this connector's usage log
``compensate``, ``nextPolicy``
                      recorded (what is owed, the policy to attach when distributing); carrying
                      them out is outside the connector

:class:`DutyRunner` runs due duties, retries failures with backoff, and records each outcome in
the usage log; ``GET /management/v3/agreements/{id}/usage`` shows duties and log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from twinspace.connector.context import Context
from twinspace.dataplane.received import received_path
from twinspace.policy import PolicyError, parse_policy
from twinspace.retry import backoff
from twinspace.store import DutyRecord, Transfer, Tx

from .decisions import odrl_of
from .log import log_event

log = logging.getLogger("twinspace.usage")

#: Duties whose fulfilment goes into the transparency log.
LOGGED_DUTIES = frozenset({"delete", "inform", "notify"})
#: Duties given up after this many failed attempts (the failure stays visible).
MAX_ATTEMPTS = 10


def schedule_duties(ctx: Context, tx: Tx, t: Transfer, now: datetime) -> list[DutyRecord]:
    """Consumer: record the duties of ``t``'s agreement (once per transfer)."""
    agreement = tx.agreements.get(t.agreement_id)
    try:
        policy = parse_policy(odrl_of(agreement.policy))
    except PolicyError as exc:
        log_event(tx, agreement.id, "duties-unreadable", now, transfer_id=t.id, error=str(exc))
        return []
    duties = [d for rule in policy.permissions for d in rule.duties] + list(policy.obligations)
    made = []
    for index, duty in enumerate(duties):
        duty_id = f"{t.id}#{index}"[:64]
        if tx.duties.find(duty_id) is not None:
            continue
        params = dict(duty.parameters)
        due = now
        detail: dict[str, Any] = {"path": duty.path}
        if duty.action == "delete":
            by = params.get("by")
            within = params.get("within")
            if isinstance(by, datetime):
                due = by
            if isinstance(within, timedelta):
                due = min(due if isinstance(by, datetime) else now + within, now + within)
            detail["file"] = str(received_path(ctx.settings.data_dir, t.id))
        elif duty.action in ("inform", "notify"):
            detail["informedParty"] = params.get("informedParty") or agreement.provider_id
            detail["address"] = t.counter_party_address
        elif duty.action not in ("log", "compensate", "nextPolicy"):
            detail["note"] = f"no automatic handler for {duty.action!r}: recorded only"
        detail.update({k: str(v) for k, v in params.items() if k not in ("by", "within")})
        record = DutyRecord(
            id=duty_id,
            agreement_id=agreement.id,
            transfer_id=t.id,
            action=duty.action,
            due_at=due,
            detail=detail,
            created_at=now,
        )
        tx.duties.insert(record)
        made.append(record)
    return made


Notifier = Callable[[DutyRecord], Awaitable[None]]


class DutyRunner:
    def __init__(self, ctx: Context, notify: Notifier) -> None:
        self.ctx = ctx
        self.notify = notify

    async def run_once(self) -> int:
        """Carry out every duty that is due; how many were done."""
        now = self.ctx.clock.now()
        with self.ctx.store.transaction() as tx:
            due = tx.duties.due(now)
        done = 0
        for duty in due:
            try:
                detail = await self._carry_out(duty)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                give_up = duty.attempts + 1 >= MAX_ATTEMPTS
                delay = timedelta(seconds=backoff(duty.attempts, 2.0, 300.0))
                with self.ctx.store.transaction() as tx:
                    tx.duties.retry(duty.id, error, self.ctx.clock.now() + delay, give_up=give_up)
                log.warning("duty %s (%s) failed: %s", duty.id, duty.action, error)
                continue
            with self.ctx.store.transaction() as tx:
                tx.duties.finish(duty.id, self.ctx.clock.now())
                if self.ctx.ledger is not None and duty.action in LOGGED_DUTIES:
                    fields: dict[str, object] = {
                        "agreement": duty.agreement_id,
                        "action": duty.action,
                        "fulfilled_at": self.ctx.clock.now(),
                    }
                    if duty.transfer_id:
                        fields["transfer"] = duty.transfer_id
                    self.ctx.ledger.record(
                        tx, "duty", duty.agreement_id, fields, self.ctx.clock.now()
                    )
                log_event(
                    tx,
                    duty.agreement_id,
                    f"duty:{duty.action}",
                    self.ctx.clock.now(),
                    transfer_id=duty.transfer_id,
                    **detail,
                )
            done += 1
        return done

    async def _carry_out(self, duty: DutyRecord) -> dict[str, Any]:
        if duty.action == "delete":
            target = Path(str(duty.detail.get("file")))
            existed = target.exists()
            if target.is_dir():
                await asyncio.to_thread(shutil.rmtree, target)
            else:
                target.unlink(missing_ok=True)
            return {"deleted": str(target), "existed": existed}
        if duty.action in ("inform", "notify"):
            await self.notify(duty)
            return {"notified": duty.detail.get("informedParty")}
        return {"recorded": duty.detail}

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("duty runner round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
