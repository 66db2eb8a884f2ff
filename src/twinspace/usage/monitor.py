"""The policy monitor: running transfers are checked against their agreements again and again.

Every ``policy_monitor_seconds`` the provider re-evaluates each STARTED transfer it serves
(moment ``transfer``: time window, time since the agreement, uses so far, the consumer's
membership). The consumer's credentials are checked again against the current status lists
(from the snapshot kept at the transfer request), so a revoked or suspended member loses the
``membership`` fact. When the policy no longer holds the transfer is stopped at once (its
data-plane token stops working with the stop message queued):

* terminated when what failed cannot come back (``dateTime`` past, ``elapsedTime``, ``count``);
* suspended otherwise (e.g. a suspended membership), so that it can be resumed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from twinspace.clock import Clock
from twinspace.connector.context import Context
from twinspace.connector.transfers import Transfers
from twinspace.identity import IdentityError
from twinspace.identity._time import parse_datetime
from twinspace.identity.credentials import VerifiedCredential, check_status
from twinspace.policy import Decision
from twinspace.protocol.machine import Role
from twinspace.protocol.transfer import TP, TPMessage
from twinspace.store import Transfer
from twinspace.store import tables as t
from twinspace.trust.runtime import TrustRuntime

from .decisions import why
from .log import log_decision

log = logging.getLogger("twinspace.usage")

#: Left operands whose failure is final: time only moves on, uses only add up.
FINAL = frozenset({"dateTime", "elapsedTime", "count"})


def violated(decision: Decision) -> bool:
    """Whether a constraint is definitely not met (not merely unknown: a fact that only a data
    access declares, such as its purpose, is checked at that access)."""
    return any(r.satisfied is False for r in decision.reasons)


def final(decision: Decision) -> bool:
    failed = [r for r in decision.reasons if r.satisfied is False and r.left_operand]
    return bool(failed) and all(str(r.left_operand).split(":")[-1] in FINAL for r in failed)


async def credentials_hold(
    trust: TrustRuntime, claims: Mapping[str, Any], now: datetime
) -> str | None:
    """Why the credentials in a claims snapshot no longer hold (None: they do)."""
    items = [i for i in claims.get("status") or [] if isinstance(i, Mapping)]
    urls = [
        e["statusListCredential"]
        for i in items
        for e in (i.get("entries") or [])
        if isinstance(e, Mapping) and isinstance(e.get("statusListCredential"), str)
    ]
    await trust.status_lists.prefetch(*dict.fromkeys(urls))
    await trust.resolver.prefetch(*dict.fromkeys(str(i.get("issuer")) for i in items))
    ctx = trust.context()
    for item in items:
        until = item.get("validUntil")
        if isinstance(until, str) and parse_datetime(until, "validUntil") <= now:
            return f"a credential of the consumer expired at {until}"
        entries = item.get("entries") or []
        credential = VerifiedCredential(
            id=None,
            types=frozenset(),
            issuer=str(item.get("issuer")),
            subject_id=None,
            subject={},
            valid_from=None,
            valid_until=None,
            claims={"credentialStatus": entries},
        )
        try:
            check_status(credential, ctx)
        except IdentityError as exc:
            return f"{exc.code}: {exc.message}"
    return None


class PolicyMonitor:
    def __init__(
        self,
        ctx: Context,
        transfers: Transfers,
        trust: TrustRuntime | None,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.ctx = ctx
        self.transfers = transfers
        self.trust = trust
        self.wake = wake  # the outbound manager: the stop messages are queued
        self.clock: Clock = ctx.clock
        self.checked = 0

    def _running(self) -> list[Transfer]:
        c = t.transfers.c
        with self.ctx.store.transaction() as tx:
            found: list[Transfer] = tx.transfers.list(
                c.role == Role.PROVIDER, c.state == TP.STARTED
            )
        return found

    async def run_once(self) -> list[str]:
        """Check every running transfer once; the ids of those stopped."""
        stopped = []
        for transfer in await asyncio.to_thread(self._running):
            claims = dict(transfer.caller_claims or {})
            if self.trust is not None and claims.get("status"):
                broken = await credentials_hold(self.trust, claims, self.clock.now())
                if broken is not None:
                    claims["revoked"] = True
                    claims["revokedBecause"] = broken
            decision = await asyncio.to_thread(self._decide, transfer, claims)
            self.checked += 1
            if decision is None or decision.allowed or not violated(decision):
                continue  # only a definite violation stops a transfer (each access is decided)
            kind = TPMessage.TERMINATION if final(decision) else TPMessage.SUSPENSION
            reason = f"the agreement's policy no longer holds: {why(decision)}"
            try:
                await asyncio.to_thread(
                    self.transfers.act, transfer.id, kind, reason, "POLICY_VIOLATION"
                )
            except Exception as exc:
                log.warning("could not stop transfer %s: %s", transfer.id, exc)
                continue
            log.info("stopped transfer %s (%s): %s", transfer.id, kind, reason)
            stopped.append(transfer.id)
        return stopped

    def _decide(self, transfer: Transfer, claims: dict[str, Any]) -> Decision | None:
        now = self.clock.now()
        usage = self.ctx.usage
        with self.ctx.store.transaction() as tx:
            current = tx.transfers.find(transfer.id)
            if current is None or current.state != TP.STARTED:
                return None
            agreement = tx.agreements.get(current.agreement_id)
            facts = usage.facts(
                claims,
                now=now,
                agreement=agreement,
                count=tx.counters.get(agreement.id),
                tx=tx,
                purpose=current.purpose,
            )
            decision = usage.decide(
                agreement.policy,
                moment="transfer",
                facts=facts,
                assignee=current.counter_party_id,
            )
            if not decision.allowed:
                log_decision(tx, current, "monitor", decision, now)
            return decision

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                if await self.run_once():
                    self.wake()
            except Exception:
                log.exception("policy monitor round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
