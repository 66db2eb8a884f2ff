"""Store repositories of usage control: use counters, duties, the usage log, acceptance rules."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from twinspace.store import tables as t
from twinspace.store.records import (
    DUTY_DONE,
    DUTY_FAILED,
    DUTY_PENDING,
    AcceptanceRule,
    DutyRecord,
    Signal,
    UsageCounter,
    UsageEntry,
)
from twinspace.store.rows import Rows, from_row


class Counters:
    """How many times each agreement was used (one data-plane access = one use)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.rows = Rows(conn, t.usage_counters, UsageCounter, "usage counter")

    def get(self, agreement_id: str) -> int:
        found: UsageCounter | None = self.rows.find(agreement_id)
        return 0 if found is None else found.count

    def increment(self, agreement_id: str, now: datetime) -> int:
        """Count one more use (atomic under concurrent writers); the new count."""
        c = t.usage_counters.c
        updated = self.conn.execute(
            t.usage_counters.update()
            .where(c.agreement_id == agreement_id)
            .values(count=c.count + 1, last_use_at=now)
            .returning(c.count)
        ).first()
        if updated is not None:
            return int(updated[0])
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    t.usage_counters.insert().values(
                        agreement_id=agreement_id, count=1, first_use_at=now, last_use_at=now
                    )
                )
            return 1
        except sa.exc.IntegrityError:  # a concurrent first use: count on top of it
            return self.increment(agreement_id, now)

    def decrement(self, agreement_id: str) -> None:
        """Take back a use counted in this transaction (the access was denied)."""
        c = t.usage_counters.c
        self.conn.execute(
            t.usage_counters.update()
            .where(c.agreement_id == agreement_id, c.count > 0)
            .values(count=c.count - 1)
        )


class Duties(Rows):
    def __init__(self, conn: Connection) -> None:
        super().__init__(conn, t.duties, DutyRecord, "duty")

    def due(self, now: datetime, limit: int = 50) -> list[DutyRecord]:
        c = t.duties.c
        found: list[DutyRecord] = self.list(
            c.state == DUTY_PENDING, c.due_at <= now, limit=limit, order=c.due_at
        )
        return found

    def for_agreement(self, agreement_id: str) -> list[DutyRecord]:
        c = t.duties.c
        found: list[DutyRecord] = self.list(c.agreement_id == agreement_id, order=c.created_at)
        return found

    def finish(self, duty_id: str, now: datetime) -> None:
        self.conn.execute(
            t.duties.update()
            .where(t.duties.c.id == duty_id)
            .values(state=DUTY_DONE, done_at=now, last_error=None)
        )

    def retry(self, duty_id: str, error: str, next_at: datetime, *, give_up: bool) -> None:
        c = t.duties.c
        self.conn.execute(
            t.duties.update()
            .where(c.id == duty_id)
            .values(
                attempts=c.attempts + 1,
                last_error=error,
                due_at=next_at,
                state=DUTY_FAILED if give_up else DUTY_PENDING,
            )
        )


class UsageLog:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, entry: UsageEntry) -> None:
        self.conn.execute(
            t.usage_log.insert().values(
                id=entry.id,
                at=entry.at,
                agreement_id=entry.agreement_id,
                transfer_id=entry.transfer_id,
                event=entry.event,
                allowed=entry.allowed,
                detail=entry.detail,
            )
        )

    def for_agreement(self, agreement_id: str, limit: int = 1000) -> list[UsageEntry]:
        c = t.usage_log.c
        stmt = (
            sa.select(t.usage_log)
            .where(c.agreement_id == agreement_id)
            .order_by(c.at, c.id)
            .limit(limit)
        )
        return [from_row(UsageEntry, r) for r in self.conn.execute(stmt).mappings()]


class AcceptanceRules(Rows):
    def __init__(self, conn: Connection) -> None:
        super().__init__(conn, t.acceptance_rules, AcceptanceRule, "acceptance rule")


class Signals(Rows):
    def __init__(self, conn: Connection) -> None:
        super().__init__(conn, t.signals, Signal, "signal")

    def active(self, kind: str, now: datetime) -> frozenset[str]:
        c = t.signals.c
        rows = self.conn.execute(
            sa.select(c.name).where(
                c.kind == kind, c.since <= now, sa.or_(c.until.is_(None), c.until > now)
            )
        )
        return frozenset(str(r[0]) for r in rows)
