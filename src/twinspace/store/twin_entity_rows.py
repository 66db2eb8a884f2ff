"""The current state of NGSI-LD entities: ``tx.twin_entities``; queries here, reads by id and
writes in ``twin_entity_writes``.

Queries narrow by type (``twin_entity_types``), ids, an id pattern's literal prefix and the
location's bounding box in SQL, and stream the docs page by page. The ``attrs`` filter is narrowed
through the per-tenant attribute catalogue (``twin_catalogue``: the types having any of the
attributes) and checked on each doc. ``types``/``attributes``/``type_attributes`` read the
catalogue.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from twinspace.store import twin_tables as tt
from twinspace.store.twin_catalogue import Catalogue
from twinspace.store.twin_entity_writes import EntityWrites
from twinspace.store.twin_rows import BBox, Json, literal_prefix

PAGE = 1000  # rows per page when streaming query results

_E = tt.twin_entities
_TY = tt.twin_entity_types


class TwinEntities(EntityWrites):
    """Entities of every tenant. Docs are canonical entity dicts (expanded IRIs)."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.catalogue = Catalogue(conn)

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
        the caller's); ``attrs_any``: the entity has any of these attributes (the catalogue
        narrows the query to the types having one, each doc is then checked). ``after_id``
        resumes after that id (keyset); ``offset``/``limit`` count matching entities.
        Rows are fetched in pages of 1,000, never all at once; each page is its own statement, so
        the caller may use the connection between items.
        """
        if limit is not None and limit <= 0:
            return
        types = self._narrow(tenant, types, attrs_any)
        if types is not None and not types:
            return
        regex = re.compile(id_pattern) if id_pattern is not None else None
        stmt, key = self._filtered(tenant, types, ids, id_pattern, bbox)
        if attrs_any is not None:
            wanted = frozenset(attrs_any)

            def keep(doc: Json) -> bool:
                if regex is not None and regex.search(doc["id"]) is None:
                    return False
                return not wanted.isdisjoint(doc.get("attrs", ()))

            yield from self._stream_kept(stmt, key, after_id, offset, limit, keep)
            return
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
        if attrs_any is not None:
            found = self.query(
                tenant, types=types, ids=ids, id_pattern=id_pattern, bbox=bbox, attrs_any=attrs_any
            )
            return sum(1 for _doc in found)
        stmt, key = self._filtered(tenant, types, ids, id_pattern, bbox)
        if id_pattern is None:
            counted = sa.select(sa.func.count()).select_from(stmt.add_columns(key).subquery())
            return int(self.conn.execute(counted).scalar_one())
        regex = re.compile(id_pattern)
        return sum(1 for page in self._id_pages(stmt, key, None) for i in page if regex.search(i))

    def types(self, tenant: str) -> list[tuple[str, int]]:
        """Every entity type of the tenant with its entity count, sorted by type."""
        return self.catalogue.types(tenant)

    def attributes(self, tenant: str) -> list[tuple[str, list[str], list[str]]]:
        """Every attribute of the tenant: (attr, its instance types, the entity types having it)."""
        return self.catalogue.attributes(tenant)

    def type_attributes(self, tenant: str, entity_type: str) -> list[tuple[str, list[str]]]:
        """The attributes of entities of ``entity_type``: (attr, its instance types), by attr."""
        return self.catalogue.type_attributes(tenant, entity_type)

    # --- internals --------------------------------------------------------------------------

    def _narrow(
        self, tenant: str, types: Sequence[str] | None, attrs_any: Sequence[str] | None
    ) -> Sequence[str] | None:
        """``types`` narrowed to those of which some entity has any of ``attrs_any``."""
        if attrs_any is None:
            return types
        having = self.catalogue.types_having(tenant, attrs_any) if attrs_any else []
        if types is None:
            return having
        chosen = set(having)
        return [t for t in types if t in chosen]

    def _filtered(
        self,
        tenant: str,
        types: Sequence[str] | None,
        ids: Sequence[str] | None,
        id_pattern: str | None,
        bbox: BBox | None,
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

    def _stream_kept(
        self,
        stmt: sa.Select[Any],
        key: sa.ColumnElement[str],
        after_id: str | None,
        offset: int,
        limit: int | None,
        keep: Callable[[Json], bool],
    ) -> Iterator[Json]:
        """The docs ``keep`` accepts, paged by keyset; offset and limit count accepted docs."""
        after, skip, left = after_id, offset, limit
        while True:
            page = stmt.add_columns(key, _E.c.doc).order_by(key).limit(PAGE)
            if after is not None:
                page = page.where(key > after)
            rows = self.conn.execute(page).all()
            for row in rows:
                if not keep(row[1]):
                    continue
                if skip:
                    skip -= 1
                    continue
                yield row[1]
                if left is not None:
                    left -= 1
                    if left == 0:
                        return
            if len(rows) < PAGE:
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
