"""The NGSI-LD twin broker's store: records, pure helpers (location bounding boxes, the literal
prefix of an id regex), the bulk writer ``DriverRows`` and the small repositories (tenants,
@contexts).

The larger repositories live beside this module: ``twin_entity_rows`` (current entity state),
``twin_temporal_rows`` (temporal evolution) and ``twin_subscription_rows`` (subscriptions and their
notification queue). Every repository works on the ``Connection`` of one transaction, like the
other Rows classes, and is reached through ``Tx`` (``tx.twin_entities`` ...).

Tenants are strings; "" is the default tenant, which always exists and is never stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from twinspace.store import twin_tables as tt
from twinspace.store.errors import AlreadyExists
from twinspace.store.records import PENDING
from twinspace.store.rows import from_row, to_row

Json = dict[str, Any]
T = TypeVar("T")

HOSTED = "Hosted"  # twin_contexts.kind
CACHED = "Cached"
CHUNK = 500  # ids per IN (...) list
LOCATION = "https://uri.etsi.org/ngsi-ld/location"

BBox = tuple[
    float, float, float, float
]  # (min_x, min_y, max_x, max_y) = (west, south, east, north)

_META = frozenset(".^$*+?{}[]\\|()")


@dataclass(slots=True)
class TemporalRow:
    """One attribute instance as it was at ``modified_at`` (the temporal evolution).

    ``instance`` is the canonical instance dict with its ``instanceId`` (a unique URI such as
    ``urn:ngsi-ld:attribute:instance:<uuid>[:<n>]``; the store adds one when it is missing);
    ``entity_type`` is the entity's first expanded type; ``dataset_id`` is the instance's
    ``datasetId``, "" for the default instance (the store keeps the instance, and reads the
    dataset back from it).
    """

    entity_id: str
    entity_type: str
    attr: str
    dataset_id: str
    observed_at: datetime | None
    modified_at: datetime
    instance: Json

    @property
    def instance_id(self) -> str:
        return str(self.instance.get("instanceId", ""))


@dataclass(slots=True)
class TemporalChange:
    """One entity change as the temporal table stores it: every changed instance of the entity
    at ``modified_at``, grouped by attribute as ``{attr: [[observedAt text | None, instance]]}``
    (the text is ``observedAt`` in UTC as ``datetime.isoformat`` writes it; every instance
    carries its ``instanceId``), with the least and greatest observedAt (None when no instance
    has one). What a writer that already holds a whole entity hands over, instead of one
    ``TemporalRow`` per instance."""

    entity_id: str
    entity_type: str
    modified_at: datetime
    observed_min: datetime | None
    observed_max: datetime | None
    instances: dict[str, list[list[Any]]]


@dataclass
class SubscriptionRow:
    id: str
    tenant: str
    doc: Json  # the subscription in expanded canonical form, opaque to the store
    created_at: datetime
    modified_at: datetime
    active: bool = True
    expires_at: datetime | None = None
    times_sent: int = 0
    times_failed: int = 0
    last_notification: datetime | None = None
    last_success: datetime | None = None
    last_failure: datetime | None = None
    last_error: str | None = None
    owner: str | None = None  # e.g. "transfer:<id>" for data-space subscriptions


@dataclass
class NotificationRow:
    """A notification for a subscription's endpoint; ``status`` is PENDING, SENT or FAILED."""

    id: str
    tenant: str
    subscription_id: str
    endpoint: Json
    payload: Any
    next_attempt_at: datetime
    created_at: datetime
    status: str = PENDING
    attempts: int = 0
    lease_owner: str | None = None
    lease_until: datetime | None = None
    last_error: str | None = None
    sent_at: datetime | None = None


@dataclass
class ContextRow:
    """An @context document the broker serves: uploaded (HOSTED) or fetched once (CACHED)."""

    id: str
    url: str
    kind: str
    doc: Any
    created_at: datetime
    last_used_at: datetime | None = None


_standard = json.JSONEncoder(check_circular=False, separators=(",", ":")).encode


def _encode(value: Any) -> str:
    """Compact JSON text (orjson; the standard encoder for what it refuses, e.g. huge ints)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return _standard(value)


class DriverRows:
    """Bulk statements run straight on the DBAPI cursor (``executemany``), for the hot paths.

    SQLAlchemy's per-value bind processing (JSON, ``UTCDateTime``) costs more than the database
    itself on bulk writes, so the values are converted here once, the way those types would:
    JSON as compact text, datetimes as naive UTC (as text in SQLAlchemy's SQLite format).
    Statements are written with ``?`` placeholders and adapted to the driver's paramstyle.
    Errors still surface as SQLAlchemy exceptions (``IntegrityError``...).
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self.qmark = conn.dialect.paramstyle == "qmark"
        self._times: dict[datetime, Any] = {}

    @staticmethod
    def json(value: Any) -> str:
        return _encode(value)

    def time(self, value: datetime | None) -> Any:
        """``value`` as the driver should receive it for a ``UTCDateTime`` column."""
        if value is None:
            return None
        found = self._times.get(value)
        if found is None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to the store")
            naive = value.astimezone(UTC).replace(tzinfo=None)
            found = naive.isoformat(" ", "microseconds") if self.sqlite else naive
            self._times[value] = found
        return found

    def executemany(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            self.conn.exec_driver_sql(sql if self.qmark else sql.replace("?", "%s"), list(rows))

    def insert(
        self, table: sa.Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """INSERT ``rows`` (tuples in ``columns`` order): PostgreSQL ``COPY`` when the driver is
        psycopg (a third faster than a pipelined executemany), else ``executemany``."""
        if not rows:
            return
        if self.conn.dialect.driver != "psycopg":
            self.executemany(self.insert_sql(table, columns), rows)
            return
        sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        dbapi: Any = self.conn.connection.dbapi_connection  # a psycopg.Connection
        try:
            with dbapi.cursor() as cursor, cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        except self.conn.dialect.loaded_dbapi.IntegrityError as exc:
            raise sa.exc.IntegrityError(sql, None, exc) from exc

    def select(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """The rows of a SELECT. On psycopg it is never prepared on the server: psycopg
        prepares a statement run five times, and PostgreSQL may then keep a generic plan made
        while the table was small (a sequential scan for an ``IN`` list of 500 ids) after the
        table grew, before autovacuum first analyses it. JSON columns come back decoded on
        PostgreSQL and as text on SQLite (see ``loads``)."""
        if self.conn.dialect.driver != "psycopg":
            return [tuple(r) for r in self.conn.exec_driver_sql(sql, tuple(params))]
        dbapi: Any = self.conn.connection.dbapi_connection  # a psycopg.Connection
        with dbapi.cursor() as cursor:
            cursor.execute(sql.replace("?", "%s"), params, prepare=False)
            return list(cursor.fetchall())

    @staticmethod
    def loads(value: Any) -> Any:
        """A JSON column's value as read by ``select``: decoded."""
        return orjson.loads(value) if isinstance(value, str | bytes) else value

    @staticmethod
    def insert_sql(table: sa.Table, columns: Sequence[str]) -> str:
        marks = ", ".join("?" for _ in columns)
        return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"


def geometry_bbox(geometry: Any) -> BBox | None:
    """The lon/lat bounding box of a GeoJSON geometry; None when it holds no coordinates."""
    xs: list[float] = []
    ys: list[float] = []

    def walk(node: Any) -> None:
        if isinstance(node, list | tuple):
            if len(node) >= 2 and all(isinstance(v, int | float) for v in node[:2]):
                xs.append(float(node[0]))
                ys.append(float(node[1]))
            else:
                for child in node:
                    walk(child)

    if isinstance(geometry, dict):
        if geometry.get("type") == "GeometryCollection":
            walk(
                [
                    g.get("coordinates")
                    for g in geometry.get("geometries", [])
                    if isinstance(g, dict)
                ]
            )
        else:
            walk(geometry.get("coordinates"))
    if not xs:
        return None
    return (min(xs), min(ys), max(xs), max(ys))


def location_bbox(doc: Json) -> BBox | None:
    """The bounding box of the entity's default ``location`` instance, if it has one."""
    for instance in doc.get("attrs", {}).get(LOCATION, ()):
        if "datasetId" not in instance:
            return geometry_bbox(instance.get("value"))
    return None


def literal_prefix(pattern: str) -> tuple[str, bool]:
    """The literal text every match of regex ``pattern`` starts with, and whether the pattern is
    anchored at the start of the string (``^``). ("", False) when nothing can be said."""
    if "|" in pattern:  # an alternation may bypass any prefix
        return "", False
    anchored = pattern.startswith("^")
    i = 1 if anchored else 0
    out: list[str] = []
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern) or pattern[i + 1].isalnum():  # \d, \w, \1 ...: not literal
                break
            literal, step = pattern[i + 1], 2
        elif ch in _META:
            break
        else:
            literal, step = ch, 1
        following = pattern[i + step] if i + step < len(pattern) else ""
        if following in ("*", "?", "{"):  # the literal may be absent
            break
        out.append(literal)
        i += step
        if following == "+":
            break
    return "".join(out), anchored


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class TwinTenants:
    """The tenants known to the broker (created on their first write)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def ensure(self, tenant: str, now: datetime) -> None:
        """Record ``tenant`` unless it is known (safe under concurrent first writes)."""
        if tenant == "" or self.exists(tenant):
            return
        try:
            with self.conn.begin_nested():
                self.conn.execute(tt.twin_tenants.insert().values(tenant=tenant, created_at=now))
        except sa.exc.IntegrityError:  # a concurrent writer created it first
            pass

    def exists(self, tenant: str) -> bool:
        if tenant == "":
            return True
        c = tt.twin_tenants.c
        return self.conn.execute(sa.select(c.tenant).where(c.tenant == tenant)).first() is not None

    def list(self) -> list[str]:
        """The stored tenants, sorted (the implicit default tenant "" is not listed)."""
        c = tt.twin_tenants.c
        return [str(r[0]) for r in self.conn.execute(sa.select(c.tenant).order_by(c.tenant))]


class TwinContexts:
    """@context documents kept by the broker (``/jsonldContexts``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, row: ContextRow) -> None:
        """Insert ``row``; AlreadyExists when its id or url is taken."""
        try:
            with self.conn.begin_nested():
                self.conn.execute(tt.twin_contexts.insert().values(**to_row(row)))
        except sa.exc.IntegrityError as exc:
            raise AlreadyExists("@context", row.url) from exc

    def get(self, context_id: str) -> ContextRow | None:
        return self._one(tt.twin_contexts.c.id == context_id)

    def by_url(self, url: str) -> ContextRow | None:
        return self._one(tt.twin_contexts.c.url == url)

    def list(self, kind: str | None = None) -> list[ContextRow]:
        """All contexts (or those of ``kind``) in order of creation."""
        c = tt.twin_contexts.c
        stmt = sa.select(tt.twin_contexts).order_by(c.created_at, c.id)
        if kind is not None:
            stmt = stmt.where(c.kind == kind)
        return [from_row(ContextRow, r) for r in self.conn.execute(stmt).mappings()]

    def touch(self, context_id: str, now: datetime) -> None:
        """Record a use of the context (``last_used_at``)."""
        c = tt.twin_contexts.c
        self.conn.execute(
            tt.twin_contexts.update().where(c.id == context_id).values(last_used_at=now)
        )

    def delete(self, context_id: str) -> bool:
        c = tt.twin_contexts.c
        return self.conn.execute(tt.twin_contexts.delete().where(c.id == context_id)).rowcount == 1

    def _one(self, condition: Any) -> ContextRow | None:
        row = self.conn.execute(sa.select(tt.twin_contexts).where(condition)).mappings().first()
        return None if row is None else from_row(ContextRow, row)


__all__ = [
    "CACHED",
    "CHUNK",
    "HOSTED",
    "LOCATION",
    "BBox",
    "ContextRow",
    "DriverRows",
    "NotificationRow",
    "SubscriptionRow",
    "TemporalRow",
    "TwinContexts",
    "TwinTenants",
    "chunks",
    "geometry_bbox",
    "literal_prefix",
    "location_bbox",
]
