"""The current state of NGSI-LD entities: ``tx.twin_entities``.

Each entity is one ``twin_entities`` row holding its canonical document (see the twin brief) plus
the columns the queries filter on: the first type, the bounding box of its default ``location``
instance, timestamps and a version. Two side tables answer the type and attribute questions:
``twin_entity_types`` (one row per type: multi-typed entities are found by each of their types)
and ``twin_entity_attrs`` (attribute, attribute type, entity type). The side tables are rewritten
only for entities whose types or attribute set (names and instance types) changed.

The ``*_many`` methods are bulk: one executemany statement per table, no round trip per entity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from twinspace.store import twin_tables as tt
from twinspace.store.errors import Conflict
from twinspace.store.twin_rows import (
    BBox,
    DriverRows,
    Json,
    chunks,
    literal_prefix,
    location_bbox,
)

PAGE = 1000  # rows per page when streaming query results


_E = tt.twin_entities
_TY = tt.twin_entity_types
_AT = tt.twin_entity_attrs
_BOX = ("min_x", "min_y", "max_x", "max_y")
_COLUMNS = ("tenant", "entity_id", "entity_type", "types", "doc", "created_at", "modified_at",
            "version", *_BOX)  # fmt: skip
_UPDATE = (
    "UPDATE twin_entities SET entity_type = ?, types = ?, doc = ?, modified_at = ?,"
    " version = version + 1, min_x = ?, min_y = ?, max_x = ?, max_y = ?"
    " WHERE tenant = ? AND entity_id = ?"
)
_TYPE_COLUMNS = ("tenant", "entity_id", "type")
_ATTR_COLUMNS = ("tenant", "entity_id", "attr", "attr_type", "entity_type")


class _Stamps:
    """Docs' ISO timestamps as driver values, each distinct text parsed once; ``default`` for
    missing or unparsable ones."""

    def __init__(self, out: DriverRows, default: datetime) -> None:
        self.out = out
        self.default = out.time(default)
        self.seen: dict[str, Any] = {}

    def __call__(self, text: Any) -> Any:
        if not isinstance(text, str):
            return self.default
        found = self.seen.get(text)
        if found is None:
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                parsed = None
            ok = parsed is not None and parsed.tzinfo is not None
            found = self.seen[text] = self.out.time(parsed) if ok else self.default
        return found


def _bbox_values(doc: Json) -> tuple[float | None, float | None, float | None, float | None]:
    box = location_bbox(doc)
    return (None, None, None, None) if box is None else box


def _signature(doc: Json) -> tuple[tuple[str, ...], frozenset[tuple[str, str]]]:
    """What the side tables record of an entity: its types and (attribute, instance type) set."""
    return tuple(doc["type"]), frozenset(
        (attr, str(inst.get("type", "Property")))
        for attr, instances in doc.get("attrs", {}).items()
        for inst in instances
    )


class TwinEntities:
    """Entities of every tenant. Docs are canonical entity dicts (expanded IRIs)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # --- reads ------------------------------------------------------------------------------

    def get(self, tenant: str, entity_id: str) -> Json | None:
        stmt = sa.select(_E.c.doc).where(_E.c.tenant == tenant, _E.c.entity_id == entity_id)
        row = self.conn.execute(stmt).first()
        return None if row is None else dict(row[0])

    def get_many(self, tenant: str, ids: Iterable[str]) -> dict[str, Json]:
        """The stored docs of those ``ids`` that exist, by id (one query per 500 ids)."""
        found: dict[str, Json] = {}
        for part in chunks(list(dict.fromkeys(ids))):
            stmt = sa.select(_E.c.entity_id, _E.c.doc).where(
                _E.c.tenant == tenant, _E.c.entity_id.in_(part)
            )
            found.update((str(r[0]), r[1]) for r in self.conn.execute(stmt))
        return found

    def version(self, tenant: str, entity_id: str) -> int | None:
        stmt = sa.select(_E.c.version).where(_E.c.tenant == tenant, _E.c.entity_id == entity_id)
        row = self.conn.execute(stmt).first()
        return None if row is None else int(row[0])

    # --- writes -----------------------------------------------------------------------------

    def insert_many(self, tenant: str, docs: Sequence[Json], now: datetime) -> None:
        """Insert new entities (the caller checked they are absent).

        Conflict when one exists after all (a concurrent writer): the transaction must be retried.
        ``created_at``/``modified_at`` come from the docs' ``createdAt``/``modifiedAt``, else ``now``.
        """
        if not docs:
            return
        out = DriverRows(self.conn)
        stamp = _Stamps(out, now)
        rows = [
            (tenant, doc["id"], doc["type"][0], out.json(doc["type"]), out.json(doc),
             stamp(doc.get("createdAt")), stamp(doc.get("modifiedAt")), 1, *_bbox_values(doc))
            for doc in docs
        ]  # fmt: skip
        try:
            out.insert(_E, _COLUMNS, rows)
        except sa.exc.IntegrityError as exc:
            raise Conflict(f"an entity of {len(docs)} was inserted concurrently") from exc
        self._write_side_tables(out, tenant, docs, replace=False)

    def update_many(
        self,
        tenant: str,
        docs: Sequence[Json],
        now: datetime,
        old: Mapping[str, Json] | None = None,
    ) -> None:
        """Overwrite existing entities with ``docs`` (ids the store lacks are left absent) and
        bump their versions; ``modified_at`` comes from the docs' ``modifiedAt``, else ``now``.

        ``old`` maps ids to the docs as the caller read them; it tells which entities changed
        their types or attribute set, whose side-table rows are then rewritten. Without ``old``
        the stored docs are read first (one query per 500 ids). An id missing from ``old`` is
        treated as changed.
        """
        if not docs:
            return
        if old is None:
            old = self.get_many(tenant, [doc["id"] for doc in docs])
        out = DriverRows(self.conn)
        stamp = _Stamps(out, now)
        rows = [
            (doc["type"][0], out.json(doc["type"]), out.json(doc), stamp(doc.get("modifiedAt")),
             *_bbox_values(doc), tenant, doc["id"])
            for doc in docs
        ]  # fmt: skip
        out.executemany(_UPDATE, rows)
        changed = []
        for doc in docs:
            before = old.get(doc["id"])
            if before is None or _signature(before) != _signature(doc):
                changed.append(doc)
        if changed:
            self._write_side_tables(out, tenant, changed, replace=True)

    def delete(self, tenant: str, entity_id: str) -> bool:
        return bool(self.delete_many(tenant, [entity_id]))

    def delete_many(self, tenant: str, ids: Iterable[str]) -> list[str]:
        """Delete those entities that exist; the ids deleted. Temporal instances are kept."""
        deleted: list[str] = []
        for part in chunks(list(dict.fromkeys(ids))):
            result = self.conn.execute(
                _E.delete()
                .where(_E.c.tenant == tenant, _E.c.entity_id.in_(part))
                .returning(_E.c.entity_id)
            )
            gone = [str(r[0]) for r in result]
            if gone:
                self._delete_side_rows(tenant, gone)
                deleted.extend(gone)
        return deleted

    # --- queries ----------------------------------------------------------------------------

    def query(
        self,
        tenant: str,
        *,
        types: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        id_pattern: str | None = None,
        bbox: BBox | None = None,
        attrs_any: Sequence[str] | None = None,
        offset: int = 0,
        limit: int | None = None,
        after_id: str | None = None,
    ) -> Iterator[Json]:
        """Stream the docs matching every given filter, in entity id order.

        ``types``: any of these (expanded) types; ``ids``: one of these ids; ``id_pattern``: a
        regex searched in the id (``re.search``, POSIX-like, unanchored; a literal start of the
        pattern becomes a SQL ``LIKE`` prefilter, an index prefix when the pattern starts with
        ``^``); ``bbox`` (min_x, min_y, max_x, max_y): the default ``location`` instance's
        bounding box intersects it (entities without one never match; an exact geometry test is
        the caller's); ``attrs_any``: the entity has any of these attributes. ``after_id``
        resumes after that id (keyset); ``offset``/``limit`` count matching entities.
        Rows are fetched in pages of 1,000, never all at once; each page is its own statement, so
        the caller may use the connection between items.
        """
        if limit is not None and limit <= 0:
            return
        regex = re.compile(id_pattern) if id_pattern is not None else None
        stmt, key = self._filtered(tenant, types, ids, id_pattern, bbox, attrs_any)
        if regex is None:
            yield from self._stream_docs(stmt, key, after_id, offset, limit)
            return
        skip, left = offset, limit
        for page in self._id_pages(stmt, key, after_id):
            matched = [i for i in page if regex.search(i)]
            if skip:
                dropped = min(skip, len(matched))
                matched, skip = matched[dropped:], skip - dropped
            if left is not None:
                matched, left = matched[:left], left - min(left, len(matched))
            docs = self.get_many(tenant, matched)
            yield from (docs[i] for i in matched if i in docs)
            if left == 0:
                return

    def count(
        self,
        tenant: str,
        *,
        types: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        id_pattern: str | None = None,
        bbox: BBox | None = None,
        attrs_any: Sequence[str] | None = None,
    ) -> int:
        """How many entities ``query`` with the same filters yields (ignoring offset/limit)."""
        stmt, key = self._filtered(tenant, types, ids, id_pattern, bbox, attrs_any)
        if id_pattern is None:
            counted = sa.select(sa.func.count()).select_from(stmt.add_columns(key).subquery())
            return int(self.conn.execute(counted).scalar_one())
        regex = re.compile(id_pattern)
        return sum(1 for page in self._id_pages(stmt, key, None) for i in page if regex.search(i))

    def types(self, tenant: str) -> list[tuple[str, int]]:
        """Every entity type of the tenant with its entity count, sorted by type."""
        stmt = (
            sa.select(_TY.c.type, sa.func.count())
            .where(_TY.c.tenant == tenant)
            .group_by(_TY.c.type)
            .order_by(_TY.c.type)
        )
        return [(str(r[0]), int(r[1])) for r in self.conn.execute(stmt)]

    def attributes(self, tenant: str) -> list[tuple[str, list[str], list[str]]]:
        """Every attribute of the tenant: (attr, its instance types, the entity types having it)."""
        stmt = (
            sa.select(_AT.c.attr, _AT.c.attr_type, _AT.c.entity_type)
            .where(_AT.c.tenant == tenant)
            .distinct()
        )
        found: dict[str, tuple[set[str], set[str]]] = {}
        for attr, attr_type, entity_type in self.conn.execute(stmt):
            kinds, types = found.setdefault(str(attr), (set(), set()))
            kinds.add(str(attr_type))
            types.add(str(entity_type))
        return [(a, sorted(k), sorted(t)) for a, (k, t) in sorted(found.items())]

    def type_attributes(self, tenant: str, entity_type: str) -> list[tuple[str, list[str]]]:
        """The attributes of entities of ``entity_type``: (attr, its instance types), by attr."""
        stmt = (
            sa.select(_AT.c.attr, _AT.c.attr_type)
            .where(_AT.c.tenant == tenant, _AT.c.entity_type == entity_type)
            .distinct()
        )
        found: dict[str, set[str]] = {}
        for attr, attr_type in self.conn.execute(stmt):
            found.setdefault(str(attr), set()).add(str(attr_type))
        return [(a, sorted(k)) for a, k in sorted(found.items())]

    # --- internals --------------------------------------------------------------------------

    def _write_side_tables(
        self, out: DriverRows, tenant: str, docs: Sequence[Json], *, replace: bool
    ) -> None:
        if replace:
            for part in chunks([doc["id"] for doc in docs]):
                self._delete_side_rows(tenant, part)
        type_rows: list[tuple[str, str, str]] = []
        attr_rows: list[tuple[str, str, str, str, str]] = []
        for doc in docs:
            entity_id, types = doc["id"], doc["type"]
            type_rows.extend((tenant, entity_id, t) for t in types)
            for attr, attr_type in _signature(doc)[1]:
                attr_rows.extend((tenant, entity_id, attr, attr_type, t) for t in types)
        out.insert(_TY, _TYPE_COLUMNS, type_rows)
        out.insert(_AT, _ATTR_COLUMNS, attr_rows)

    def _delete_side_rows(self, tenant: str, ids: Sequence[str]) -> None:
        for table in (_TY, _AT):
            self.conn.execute(
                table.delete().where(table.c.tenant == tenant, table.c.entity_id.in_(ids))
            )

    def _filtered(
        self,
        tenant: str,
        types: Sequence[str] | None,
        ids: Sequence[str] | None,
        id_pattern: str | None,
        bbox: BBox | None,
        attrs_any: Sequence[str] | None,
    ) -> tuple[sa.Select[Any], sa.ColumnElement[str]]:
        """A SELECT (no columns yet) over the matching entities, and the entity id column to
        order and page by. One type joins the type table on its (tenant, type, entity_id) index,
        so pages come in index order; several use an IN subquery."""
        key: sa.ColumnElement[str] = _E.c.entity_id
        stmt: sa.Select[Any] = sa.select().select_from(_E).where(_E.c.tenant == tenant)
        if types is not None and len(types) == 1:
            key = _TY.c.entity_id
            stmt = (
                sa.select()
                .select_from(
                    _TY.join(_E, sa.and_(_E.c.tenant == _TY.c.tenant, _E.c.entity_id == key))
                )
                .where(_TY.c.tenant == tenant, _TY.c.type == types[0])
            )
        elif types is not None:
            typed = sa.select(_TY.c.entity_id).where(_TY.c.tenant == tenant, _TY.c.type.in_(types))
            stmt = stmt.where(_E.c.entity_id.in_(typed))
        if ids is not None:
            stmt = stmt.where(key.in_(list(ids)))
        if id_pattern is not None:
            prefix, anchored = literal_prefix(id_pattern)
            if prefix:
                like = key.startswith if anchored else key.contains
                stmt = stmt.where(like(prefix, autoescape=True))
        if bbox is not None:
            min_x, min_y, max_x, max_y = bbox
            stmt = stmt.where(
                _E.c.min_x <= max_x, _E.c.max_x >= min_x, _E.c.min_y <= max_y, _E.c.max_y >= min_y
            )
        if attrs_any is not None:
            having = sa.select(_AT.c.entity_id).where(
                _AT.c.tenant == tenant, _AT.c.attr.in_(list(attrs_any))
            )
            stmt = stmt.where(key.in_(having))
        return stmt, key

    def _stream_docs(
        self,
        stmt: sa.Select[Any],
        key: sa.ColumnElement[str],
        after_id: str | None,
        offset: int,
        limit: int | None,
    ) -> Iterator[Json]:
        after, skip, left = after_id, offset, limit
        while True:
            size = PAGE if left is None else min(PAGE, left)
            page = stmt.add_columns(key, _E.c.doc).order_by(key).limit(size)
            if after is not None:
                page = page.where(key > after)
            if skip:
                page, skip = page.offset(skip), 0
            rows = self.conn.execute(page).all()
            for row in rows:
                yield row[1]
            if left is not None:
                left -= len(rows)
            if len(rows) < size or left == 0:
                return
            after = str(rows[-1][0])

    def _id_pages(
        self, stmt: sa.Select[Any], key: sa.ColumnElement[str], after_id: str | None
    ) -> Iterator[list[str]]:
        after = after_id
        while True:
            page = stmt.add_columns(key).order_by(key).limit(PAGE)
            if after is not None:
                page = page.where(key > after)
            ids = [str(r[0]) for r in self.conn.execute(page)]
            if ids:
                yield ids
            if len(ids) < PAGE:
                return
            after = ids[-1]


__all__ = ["TwinEntities"]
