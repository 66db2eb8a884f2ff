"""Store repositories of the trust layer: the holder's wallet, the jti replay store and the
authority's member register."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from twinspace.store import tables as t
from twinspace.store.records import HeldCredential, Member
from twinspace.store.rows import Rows, from_row


class Wallet(Rows):
    """Credentials issued to this participant, newest first per type."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn, t.held_credentials, HeldCredential, "credential")

    def all(self) -> list[HeldCredential]:
        c = t.held_credentials.c
        stmt = sa.select(t.held_credentials).order_by(c.type, c.received_at.desc(), c.id)
        return [from_row(HeldCredential, r) for r in self.conn.execute(stmt).mappings()]

    def replace_type(self, credential: HeldCredential) -> None:
        """Keep only ``credential`` of its type from its issuer (a renewal replaces the old one)."""
        c = t.held_credentials.c
        self.conn.execute(
            t.held_credentials.delete().where(
                c.type == credential.type, c.issuer == credential.issuer
            )
        )
        self.conn.execute(t.held_credentials.delete().where(c.id == credential.id))
        self.insert(credential)


class SeenTokens:
    """Replay store for self-issued ID tokens, shared by every replica using the database."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def remember(self, key: str, expires_at: datetime, now: datetime) -> bool:
        """Record ``key`` until ``expires_at``; ``False`` if it is already recorded and unexpired
        (an expired entry with the same key is replaced)."""
        table = t.seen_tokens
        self.conn.execute(table.delete().where(table.c.key == key, table.c.expires_at <= now))
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = (
            dialect.insert(table)
            .values(key=key, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=[table.c.key])
            .returning(table.c.key)  # rowcount is not reliable for INSERT on every driver
        )
        return self.conn.execute(stmt).first() is not None

    def purge(self, now: datetime) -> int:
        """Drop every expired entry (the caller decides how often); how many went."""
        table = t.seen_tokens
        return int(self.conn.execute(table.delete().where(table.c.expires_at <= now)).rowcount)

    def count(self) -> int:
        return int(
            self.conn.execute(sa.select(sa.func.count()).select_from(t.seen_tokens)).scalar_one()
        )


class Members(Rows):
    """The authority's register; each member owns one index in the status lists."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn, t.members, Member, "member")

    def next_status_index(self) -> int:
        top = self.conn.execute(sa.select(sa.func.max(t.members.c.status_index))).scalar_one()
        return 0 if top is None else int(top) + 1

    def indexes_with_status(self, status: str) -> list[int]:
        rows = self.conn.execute(
            sa.select(t.members.c.status_index).where(t.members.c.status == status)
        )
        return [int(r[0]) for r in rows]
