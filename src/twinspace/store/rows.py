"""Generic mapping between dataclass records and table rows."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from twinspace.store.errors import AlreadyExists, Conflict, NotFound

R = TypeVar("R")


def to_row(record: Any) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}


def from_row(cls: type[R], row: RowMapping) -> R:
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in row.items() if k in names})


class Rows:
    """Create/read/update/delete of one record type in one table, on one connection."""

    def __init__(self, conn: Connection, table: sa.Table, cls: type[R], kind: str) -> None:
        self.conn = conn
        self.table = table
        self.cls = cls
        self.kind = kind
        self.key = next(iter(table.primary_key.columns))

    def insert(self, record: Any) -> None:
        exists = self.conn.execute(
            sa.select(self.key).where(self.key == getattr(record, self.key.name))
        ).first()
        if exists is not None:
            raise AlreadyExists(self.kind, getattr(record, self.key.name))
        try:
            self.conn.execute(self.table.insert().values(**to_row(record)))
        except sa.exc.IntegrityError as exc:  # a concurrent writer inserted it first: retry
            raise Conflict(
                f"{self.kind} {getattr(record, self.key.name)!r} was inserted concurrently"
            ) from exc

    def find(self, key: str | int) -> Any | None:
        row = self.conn.execute(sa.select(self.table).where(self.key == key)).mappings().first()
        return None if row is None else from_row(self.cls, row)

    def get(self, key: str | int) -> Any:
        found = self.find(key)
        if found is None:
            raise NotFound(self.kind, str(key))
        return found

    def find_where(self, *conditions: Any) -> Any | None:
        row = self.conn.execute(sa.select(self.table).where(*conditions)).mappings().first()
        return None if row is None else from_row(self.cls, row)

    def list(
        self, *conditions: Any, offset: int = 0, limit: int | None = None, order: Any = None
    ) -> list[Any]:
        stmt = sa.select(self.table).where(*conditions)
        stmt = stmt.order_by(order if order is not None else self.key).offset(offset)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [from_row(self.cls, r) for r in self.conn.execute(stmt).mappings()]

    def count(self, *conditions: Any) -> int:
        stmt = sa.select(sa.func.count()).select_from(self.table).where(*conditions)
        return int(self.conn.execute(stmt).scalar_one())

    def replace(self, record: Any) -> None:
        values = to_row(record)
        result = self.conn.execute(
            self.table.update().where(self.key == values[self.key.name]).values(**values)
        )
        if result.rowcount == 0:
            raise NotFound(self.kind, values[self.key.name])

    def update_versioned(self, record: Any) -> None:
        """Save ``record`` if nobody saved it since it was read; bumps ``record.version``."""
        values = to_row(record)
        seen = values["version"]
        values["version"] = seen + 1
        result = self.conn.execute(
            self.table.update()
            .where(self.key == values[self.key.name], self.table.c.version == seen)
            .values(**values)
        )
        if result.rowcount == 0:
            raise Conflict(f"{self.kind} {values[self.key.name]!r} was changed concurrently")
        record.version = seen + 1

    def delete(self, key: str) -> None:
        result = self.conn.execute(self.table.delete().where(self.key == key))
        if result.rowcount == 0:
            raise NotFound(self.kind, key)
