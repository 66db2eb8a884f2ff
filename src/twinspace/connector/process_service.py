"""What the negotiation and transfer services share: finding processes, the inbound pipeline.

The inbound pipeline for a message about an existing process, in one transaction: check the
schema and the pids, find the process (404), answer a repeated message as before, apply the
transition from the state table (400 if illegal), keep what the message carries, queue this
side's reaction, save with optimistic locking, remember the reply. A lost race reruns it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from twinspace.connector.context import Context, retry_on_conflict
from twinspace.connector.errors import BothPids, Pids, bad_request, not_found
from twinspace.connector.processes import (
    INITIAL,
    Process,
    Reply,
    duplicate_of_last,
    inbound_transition,
    remember_last,
)
from twinspace.protocol.machine import Role, StateMachine
from twinspace.protocol.schemas import SchemaViolation, validate
from twinspace.store import OutboxItem, Tx

P = TypeVar("P", bound=Process)
Json = dict[str, Any]


class ProcessService(Generic[P]):
    area: ClassVar[str]
    noun: ClassVar[str]
    machine: ClassVar[StateMachine]
    rows_name: ClassVar[str]

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # --- to be provided by each service ---------------------------------------------------------

    def view(self, p: P) -> Json:
        raise NotImplementedError

    def react(self, tx: Tx, p: P, now: datetime) -> None:
        raise NotImplementedError

    def on_ack(self, tx: Tx, p: P, item: OutboxItem, response: Json | None, now: datetime) -> None:
        raise NotImplementedError

    def absorb(self, tx: Tx, p: P, kind: str, msg: Json, now: datetime) -> None:
        """Keep what an accepted inbound message carries."""

    def kind_of(self, msg: Json) -> str:
        return str(msg["@type"])

    def check_message(self, role: Role, msg: Json, pids: Pids) -> None:
        """Refuse a schema-valid message that this role must not receive (hook)."""

    # --- shared ---------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.ctx.clock.now()

    def rows(self, tx: Tx) -> Any:
        return getattr(tx, self.rows_name)

    def after_ack(self, tx: Tx, p: P, now: datetime) -> None:
        self.react(tx, p, now)

    @staticmethod
    def pids(p: Process) -> BothPids:
        return {"provider_pid": p.provider_pid or "", "consumer_pid": p.consumer_pid or ""}

    @staticmethod
    def path_pids(role: Role, pid: str) -> Pids:
        return {"provider_pid": pid} if role is Role.PROVIDER else {"consumer_pid": pid}

    def check_schema(self, body: Any, expected: str, pids: Pids) -> Json:
        try:
            validate(body, expected)
        except SchemaViolation as exc:
            raise bad_request(self.area, str(exc), code="INVALID_MESSAGE", **pids) from exc
        assert isinstance(body, dict)
        return body

    def check_callback(self, address: str, pids: Pids) -> None:
        if not address.startswith(("http://", "https://")):
            raise bad_request(
                self.area,
                f"callbackAddress {address!r} is not an http(s) URL",
                code="UNRECOVERABLE",
                **pids,
            )

    def find(self, tx: Tx, role: Role, pid: str) -> P | None:
        rows = self.rows(tx)
        if role is Role.PROVIDER:
            found: P | None = rows.by_pid(role, provider_pid=pid)
        else:
            found = rows.by_pid(role, consumer_pid=pid)
        return found

    def role_of(self, pid: str, caller: str | None = None) -> Role | None:
        """Which of our roles owns ``pid`` (a connector plays both; our pids are unique).

        With ``caller`` (an authenticated participant), a process with another counter-party
        is not found: nobody learns about, or moves, someone else's process."""
        with self.ctx.store.transaction() as tx:
            for role in (Role.PROVIDER, Role.CONSUMER):
                found = self.find(tx, role, pid)
                if found is not None:
                    if caller is not None and found.counter_party_id not in (None, caller):
                        return None
                    return role
        return None

    def get(self, role: Role, pid: str) -> Reply:
        with self.ctx.store.transaction() as tx:
            p = self.find(tx, role, pid)
            if p is None or p.state == INITIAL:
                raise not_found(self.area, self.noun, **self.path_pids(role, pid))
            return Reply(200, self.view(p))

    def open(self, key: str, create: Callable[[Tx, datetime], P]) -> Reply:
        """A counter-party opens a process: idempotent on ``key``; 201 with the process."""

        def run() -> Reply:
            now = self._now()
            with self.ctx.store.transaction() as tx:
                seen = tx.inbox.seen(key)
                if seen is not None:
                    return Reply(seen[0], seen[1])
                p = create(tx, now)
                self.rows(tx).insert(p)
                self.react(tx, p, now)
                self.rows(tx).replace(p)
                reply = Reply(201, self.view(p))
                tx.inbox.remember(key, reply.status, reply.body, now)
                return reply

        return retry_on_conflict(run)

    def inbound(self, role: Role, pid: str, expected_type: str, body: Any) -> Reply:
        """A message for an existing process, received by ``role`` under its own ``pid``."""
        path_pids = self.path_pids(role, pid)
        msg = self.check_schema(body, expected_type, path_pids)
        own, other = ("providerPid", "consumerPid")
        if role is Role.CONSUMER:
            own, other = other, own
        if msg.get(own) != pid:
            raise bad_request(
                self.area, f"{own} {msg.get(own)!r} does not match the path ({pid!r})", **path_pids
            )
        self.check_message(role, msg, path_pids)

        def run() -> Reply:
            now = self._now()
            with self.ctx.store.transaction() as tx:
                p = self.find(tx, role, pid)
                if p is None:
                    raise not_found(self.area, self.noun, **path_pids)
                known_other = p.consumer_pid if role is Role.PROVIDER else p.provider_pid
                if known_other is not None and msg.get(other) != known_other:
                    raise bad_request(
                        self.area,
                        f"{other} {msg.get(other)!r} does not belong to this {self.noun}",
                        **self.pids(p),
                    )
                dup = duplicate_of_last(tx, p.id, msg)
                if dup is not None:
                    return dup
                kind = self.kind_of(msg)

                def implicit(tx: Tx, p: P, item: OutboxItem, _r: Any, now: datetime) -> None:
                    self.on_ack(tx, p, item, msg, now)  # the inbound message stands in for the ACK

                p.state = inbound_transition(
                    tx, self.machine, p, kind, area=self.area, now=now, effects=implicit
                )
                if p.provider_pid is None:
                    p.provider_pid = msg.get("providerPid")
                self.absorb(tx, p, kind, msg, now)
                p.updated_at = now
                self.react(tx, p, now)
                self.rows(tx).update_versioned(p)
                reply = Reply(200, self.view(p))
                remember_last(tx, p.id, msg, reply, now)
                return reply

        return retry_on_conflict(run)
