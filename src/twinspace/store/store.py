"""The store: one interface over SQLite and PostgreSQL, used inside explicit transactions.

with store.transaction() as tx:
    n = tx.negotiations.get(pid)
    ...
    tx.negotiations.update_versioned(n)
    tx.outbox.enqueue(item)
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from twinspace.store import tables as t
from twinspace.store.checkpoint import WalCheckpointer
from twinspace.store.db import create_engine, migrate, sqlite_path
from twinspace.store.errors import Conflict
from twinspace.store.ledger_rows import (
    LogCheckpoints,
    LogLeaves,
    LogSubmissions,
    SeenCheckpoints,
)
from twinspace.store.records import (
    FAILED,
    PENDING,
    SENT,
    Agreement,
    Asset,
    ContractDefinition,
    DataToken,
    Negotiation,
    OutboxItem,
    PolicyDefinition,
    Transfer,
)
from twinspace.store.rows import Rows, from_row
from twinspace.store.trust_rows import Members, SeenTokens, Wallet
from twinspace.store.twin_entity_rows import TwinEntities
from twinspace.store.twin_rows import TwinContexts, TwinTenants
from twinspace.store.twin_subscription_rows import TwinNotifications, TwinSubscriptions
from twinspace.store.twin_temporal_rows import TwinInstances
from twinspace.store.usage_rows import AcceptanceRules, Counters, Duties, Signals, UsageLog


class ProcessRows(Rows):
    """Negotiations and transfers: also found by their pids."""

    def by_pid(
        self, role: str, *, provider_pid: str | None = None, consumer_pid: str | None = None
    ) -> Any:
        conditions = [self.table.c.role == role]
        if provider_pid is not None:
            conditions.append(self.table.c.provider_pid == provider_pid)
        if consumer_pid is not None:
            conditions.append(self.table.c.consumer_pid == consumer_pid)
        return self.find_where(*conditions)

    def add_bytes(self, process_id: str, nbytes: int) -> None:
        """Count ``nbytes`` more towards a transfer, atomically (many pulls may end at once);
        the version moves, so a concurrent read-modify-write of the record retries."""
        c = self.table.c
        self.conn.execute(
            self.table.update()
            .where(c.id == process_id)
            .values(bytes_transferred=c.bytes_transferred + nbytes, version=c.version + 1)
        )


class Outbox:
    """Outbound DSP messages: queued in the same transaction as the state they follow from."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.rows = Rows(conn, t.outbox, OutboxItem, "outbound message")

    def enqueue(self, item: OutboxItem) -> None:
        self.rows.insert(item)

    def get(self, item_id: str) -> OutboxItem:
        item: OutboxItem = self.rows.get(item_id)
        return item

    def latest_for(self, process_id: str) -> OutboxItem | None:
        rows = self.rows.list(
            t.outbox.c.process_id == process_id, order=t.outbox.c.created_at.desc(), limit=1
        )
        return rows[0] if rows else None

    def pending_for(self, process_id: str) -> list[OutboxItem]:
        return list(
            self.rows.list(
                t.outbox.c.process_id == process_id,
                t.outbox.c.status == PENDING,
                order=t.outbox.c.created_at,
            )
        )

    def due_ids(self, now: datetime, limit: int) -> list[str]:
        c = t.outbox.c
        stmt = (
            sa.select(c.id)
            .where(
                c.status == PENDING,
                c.next_attempt_at <= now,
                sa.or_(c.lease_until.is_(None), c.lease_until < now),
            )
            .order_by(c.next_attempt_at)
            .limit(limit)
        )
        return [r[0] for r in self.conn.execute(stmt)]

    def claim(self, item_id: str, owner: str, now: datetime, until: datetime) -> OutboxItem | None:
        """Lease one due item for ``owner``; None when another worker holds or finished it.

        The conditional UPDATE is re-checked by the database under the row lock, so two replicas
        over one PostgreSQL never both win the same item.
        """
        c = t.outbox.c
        result = self.conn.execute(
            t.outbox.update()
            .where(
                c.id == item_id,
                c.status == PENDING,
                sa.or_(c.lease_until.is_(None), c.lease_until < now),
            )
            .values(lease_owner=owner, lease_until=until, attempts=c.attempts + 1)
        )
        if result.rowcount != 1:
            return None
        return self.get(item_id)

    def mark_sent(self, item_id: str, owner: str, now: datetime) -> bool:
        c = t.outbox.c
        result = self.conn.execute(
            t.outbox.update()
            .where(c.id == item_id, c.lease_owner == owner, c.status == PENDING)
            .values(status=SENT, sent_at=now, lease_owner=None, lease_until=None, last_error=None)
        )
        return result.rowcount == 1

    def mark_delivered(self, item_id: str, now: datetime) -> bool:
        """Record delivery whoever holds the lease (an implicit acknowledgement)."""
        c = t.outbox.c
        result = self.conn.execute(
            t.outbox.update()
            .where(c.id == item_id, c.status == PENDING)
            .values(status=SENT, sent_at=now, lease_owner=None, lease_until=None, last_error=None)
        )
        return result.rowcount == 1

    def mark_retry(self, item_id: str, owner: str, error: str, next_at: datetime) -> None:
        c = t.outbox.c
        self.conn.execute(
            t.outbox.update()
            .where(c.id == item_id, c.lease_owner == owner)
            .values(last_error=error, next_attempt_at=next_at, lease_owner=None, lease_until=None)
        )

    def mark_failed(self, item_id: str, error: str) -> None:
        self.conn.execute(
            t.outbox.update()
            .where(t.outbox.c.id == item_id)
            .values(status=FAILED, last_error=error, lease_owner=None, lease_until=None)
        )

    def cancel_pending(self, process_id: str, reason: str) -> None:
        """Drop messages not yet delivered for a process that has ended."""
        c = t.outbox.c
        self.conn.execute(
            t.outbox.update()
            .where(c.process_id == process_id, c.status == PENDING)
            .values(status=FAILED, last_error=reason, lease_owner=None, lease_until=None)
        )


class Inbox:
    """Responses already given to inbound messages, so a repeated message gets the same answer."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def seen(self, key: str) -> tuple[int, Any] | None:
        row = self.conn.execute(
            sa.select(t.inbox.c.status_code, t.inbox.c.response).where(t.inbox.c.key == key)
        ).first()
        return None if row is None else (int(row[0]), row[1])

    def remember(self, key: str, status_code: int, response: Any, now: datetime) -> None:
        """Record the response under a new ``key``; Conflict if another writer got there first."""
        try:
            self.conn.execute(
                t.inbox.insert().values(
                    key=key, status_code=status_code, response=response, received_at=now
                )
            )
        except sa.exc.IntegrityError as exc:
            raise Conflict(f"inbound message {key!r} was handled concurrently") from exc

    def put(self, key: str, status_code: int, response: Any, now: datetime) -> None:
        """Insert or overwrite the remembered response under ``key``."""
        self.conn.execute(t.inbox.delete().where(t.inbox.c.key == key))
        self.remember(key, status_code, response, now)


class Tokens:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.rows = Rows(conn, t.data_tokens, DataToken, "data token")

    def add(self, token: DataToken) -> None:
        self.rows.insert(token)

    def find(self, token_hash: str) -> DataToken | None:
        found: DataToken | None = self.rows.find(token_hash)
        return found

    def revoke_for(self, transfer_id: str, now: datetime, kind: str | None = None) -> None:
        c = t.data_tokens.c
        cond = [c.transfer_id == transfer_id, c.revoked_at.is_(None)]
        if kind is not None:
            cond.append(c.kind == kind)
        self.conn.execute(t.data_tokens.update().where(*cond).values(revoked_at=now))


class Tx:
    """Everything reachable inside one database transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.assets = Rows(conn, t.assets, Asset, "asset")
        self.policies = Rows(conn, t.policy_definitions, PolicyDefinition, "policy definition")
        self.contract_definitions = Rows(
            conn, t.contract_definitions, ContractDefinition, "contract definition"
        )
        self.negotiations = ProcessRows(conn, t.negotiations, Negotiation, "contract negotiation")
        self.agreements = Rows(conn, t.agreements, Agreement, "contract agreement")
        self.transfers = ProcessRows(conn, t.transfers, Transfer, "transfer process")
        self.outbox = Outbox(conn)
        self.inbox = Inbox(conn)
        self.tokens = Tokens(conn)
        self.wallet = Wallet(conn)
        self.seen_tokens = SeenTokens(conn)
        self.members = Members(conn)
        self.counters = Counters(conn)
        self.duties = Duties(conn)
        self.usage_log = UsageLog(conn)
        self.acceptance_rules = AcceptanceRules(conn)
        self.signals = Signals(conn)
        self.log_leaves = LogLeaves(conn)
        self.log_checkpoints = LogCheckpoints(conn)
        self.log_submissions = LogSubmissions(conn)
        self.seen_checkpoints = SeenCheckpoints(conn)
        self.twin_tenants = TwinTenants(conn)
        self.twin_entities = TwinEntities(conn)
        self.twin_instances = TwinInstances(conn)
        self.twin_subscriptions = TwinSubscriptions(conn)
        self.twin_notifications = TwinNotifications(conn)
        self.twin_contexts = TwinContexts(conn)


class Store:
    def __init__(self, engine: Engine, *, checkpointer: WalCheckpointer | None = None) -> None:
        self.engine = engine
        self.checkpointer = checkpointer
        if checkpointer is not None:  # a store dropped without close() ends the thread too
            weakref.finalize(self, checkpointer.signal_stop)

    @classmethod
    def open(cls, url: str, *, upgrade: bool = True, checkpoints: bool = True) -> Store:
        """The store at ``url``, migrated unless ``upgrade`` is False. A SQLite file gets its
        WAL checkpointed by a background thread unless ``checkpoints`` is False."""
        path = sqlite_path(url) if checkpoints else None
        engine = create_engine(url, background_checkpoints=path is not None)
        if upgrade:
            migrate(engine)
        checkpointer = None
        if path is not None:
            checkpointer = WalCheckpointer(path)
            checkpointer.start()
        return cls(engine, checkpointer=checkpointer)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self.engine.begin() as conn:
            yield Tx(conn)

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.engine.dispose()


__all__ = ["Store", "Tx", "from_row"]
