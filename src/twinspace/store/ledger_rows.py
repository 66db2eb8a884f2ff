"""Store repositories of the transparency log: the log service's leaves and checkpoints, and a
participant's submissions and the checkpoints it has seen."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from twinspace.store import tables as t
from twinspace.store.records import (
    LOG_FAILED,
    LOG_LOGGED,
    LOG_PENDING,
    LogCheckpoint,
    LogLeaf,
    LogSubmission,
    SeenCheckpoint,
)
from twinspace.store.rows import Rows, from_row


class LogLeaves:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def size(self) -> int:
        return int(
            self.conn.execute(sa.select(sa.func.count()).select_from(t.log_leaves)).scalar_one()
        )

    def add_many(self, leaves: list[LogLeaf]) -> None:
        """Append leaves (their ``idx`` must continue the log; a clash is IntegrityError)."""
        if leaves:
            self.conn.execute(
                t.log_leaves.insert(),
                [
                    {
                        "idx": leaf.idx,
                        "leaf_hash": leaf.leaf_hash,
                        "entry": leaf.entry,
                        "submitter": leaf.submitter,
                        "kind": leaf.kind,
                        "subject": leaf.subject,
                        "received_at": leaf.received_at,
                    }
                    for leaf in leaves
                ],
            )

    def hashes(self, start: int = 0, end: int | None = None) -> list[str]:
        c = t.log_leaves.c
        stmt = sa.select(c.leaf_hash).where(c.idx >= start).order_by(c.idx)
        if end is not None:
            stmt = stmt.where(c.idx < end)
        return [str(r[0]) for r in self.conn.execute(stmt)]

    def range(self, start: int, end: int) -> list[LogLeaf]:
        c = t.log_leaves.c
        stmt = sa.select(t.log_leaves).where(c.idx >= start, c.idx < end).order_by(c.idx)
        return [from_row(LogLeaf, r) for r in self.conn.execute(stmt).mappings()]

    def find_hash(self, leaf_hash: str) -> LogLeaf | None:
        c = t.log_leaves.c
        row = (
            self.conn.execute(sa.select(t.log_leaves).where(c.leaf_hash == leaf_hash).limit(1))
            .mappings()
            .first()
        )
        return None if row is None else from_row(LogLeaf, row)

    def about(self, subject: str) -> list[LogLeaf]:
        c = t.log_leaves.c
        stmt = sa.select(t.log_leaves).where(c.subject == subject).order_by(c.idx)
        return [from_row(LogLeaf, r) for r in self.conn.execute(stmt).mappings()]


class LogCheckpoints(Rows):
    def __init__(self, conn: Connection) -> None:
        super().__init__(conn, t.log_checkpoints, LogCheckpoint, "checkpoint")

    def latest(self) -> LogCheckpoint | None:
        c = t.log_checkpoints.c
        row = (
            self.conn.execute(sa.select(t.log_checkpoints).order_by(c.size.desc()).limit(1))
            .mappings()
            .first()
        )
        return None if row is None else from_row(LogCheckpoint, row)


class LogSubmissions(Rows):
    def __init__(self, conn: Connection) -> None:
        super().__init__(conn, t.log_submissions, LogSubmission, "log submission")

    def due(self, now: datetime, limit: int = 100) -> list[LogSubmission]:
        c = t.log_submissions.c
        found: list[LogSubmission] = self.list(
            c.state == LOG_PENDING, c.next_attempt_at <= now, limit=limit, order=c.next_attempt_at
        )
        return found

    def about(self, subject: str) -> list[LogSubmission]:
        c = t.log_submissions.c
        found: list[LogSubmission] = self.list(c.subject == subject, order=c.created_at)
        return found

    def logged(self, submission_id: str, receipt: str, index: int, now: datetime) -> None:
        self.conn.execute(
            t.log_submissions.update()
            .where(t.log_submissions.c.id == submission_id)
            .values(state=LOG_LOGGED, receipt=receipt, leaf_index=index, logged_at=now,
                    last_error=None)
        )  # fmt: skip

    def retry(self, submission_id: str, error: str, next_at: datetime, *, give_up: bool) -> None:
        c = t.log_submissions.c
        self.conn.execute(
            t.log_submissions.update()
            .where(c.id == submission_id)
            .values(attempts=c.attempts + 1, last_error=error, next_attempt_at=next_at,
                    state=LOG_FAILED if give_up else LOG_PENDING)
        )  # fmt: skip


class SeenCheckpoints(Rows):
    def __init__(self, conn: Connection) -> None:
        super().__init__(conn, t.seen_checkpoints, SeenCheckpoint, "seen checkpoint")
