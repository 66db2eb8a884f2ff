"""The write side of ``tx.twin_entities`` (the current state of NGSI-LD entities), and the reads
that the writes rely on.

Each entity is one ``twin_entities`` row holding its canonical document (see the twin brief) plus
the columns the queries filter on: the first type, the bounding box of its default ``location``
instance, timestamps and a version. ``twin_entity_types`` holds one row per (entity, type), so
multi-typed entities are found by each of their types; it is rewritten only for entities whose
types changed. The per-tenant attribute catalogue (``twin_catalogue``) gets the count changes of
each write call at once.

The ``*_many`` methods are bulk: one executemany (or COPY) statement per table, no round trip
per entity. Reads of the same transaction remember the versions they saw, and an update of such
an entity only applies to that version: a concurrent writer that changed it in between makes the
update raise ``Conflict`` (the caller retries), so the catalogue counts never drift.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from twinspace.store import twin_tables as tt
from twinspace.store.errors import Conflict
from twinspace.store.twin_catalogue import CatalogueDelta
from twinspace.store.twin_rows import DriverRows, Json, chunks, location_bbox

_E = tt.twin_entities
_TY = tt.twin_entity_types
_BOX = ("min_x", "min_y", "max_x", "max_y")
_COLUMNS = ("tenant", "entity_id", "entity_type", "types", "doc", "created_at", "modified_at",
            "version", *_BOX)  # fmt: skip
_UPDATE = (
    "UPDATE twin_entities SET entity_type = ?, types = ?, doc = ?, modified_at = ?,"
    " version = version + 1, min_x = ?, min_y = ?, max_x = ?, max_y = ?"
    " WHERE tenant = ? AND entity_id = ?"
)
_UPDATE_SEEN = _UPDATE + " AND version = ?"
_TYPE_COLUMNS = ("tenant", "entity_id", "type")
_GET = "SELECT entity_id, doc, version FROM twin_entities WHERE tenant = ? AND entity_id IN"


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


class EntityWrites:
    """Reads by id and bulk writes of entities. Docs are canonical entity dicts (expanded IRIs)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._seen: dict[tuple[str, str], int] = {}  # (tenant, id) -> version read in this tx

    # --- reads ------------------------------------------------------------------------------

    def get(self, tenant: str, entity_id: str) -> Json | None:
        stmt = sa.select(_E.c.doc, _E.c.version).where(
            _E.c.tenant == tenant, _E.c.entity_id == entity_id
        )
        row = self.conn.execute(stmt).first()
        if row is None:
            return None
        self._seen[(tenant, entity_id)] = int(row[1])
        return dict(row[0])

    def get_many(self, tenant: str, ids: Iterable[str]) -> dict[str, Json]:
        """The stored docs of those ``ids`` that exist, by id (one query per 500 ids)."""
        found: dict[str, Json] = {}
        seen = self._seen
        out = DriverRows(self.conn)
        for part in chunks(list(dict.fromkeys(ids))):
            marks = ", ".join("?" for _ in part)
            sql = f"{_GET} ({marks})"
            for entity_id, doc, version in out.select(sql, (tenant, *part)):
                found[entity_id] = out.loads(doc)
                seen[(tenant, entity_id)] = version
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
        self.save_many(tenant, now, created=docs)

    def update_many(
        self,
        tenant: str,
        docs: Sequence[Json],
        now: datetime,
        old: Mapping[str, Json] | None = None,
    ) -> None:
        """Overwrite existing entities with ``docs`` (ids the store lacks are left absent) and
        bump their versions; ``modified_at`` comes from the docs' ``modifiedAt``, else ``now``.

        ``old`` maps ids to the docs as the caller read them (in this transaction); it tells how
        each entity's catalogue entries change. Ids missing from it are read first.
        """
        self.save_many(tenant, now, updated=docs, old=old)

    def delete(self, tenant: str, entity_id: str) -> bool:
        return bool(self.delete_many(tenant, [entity_id]))

    def delete_many(
        self, tenant: str, ids: Iterable[str], old: Mapping[str, Json] | None = None
    ) -> list[str]:
        """Delete those entities that exist; the ids deleted. Temporal instances are kept."""
        return self.save_many(tenant, None, deleted=list(ids), old=old)

    def save_many(
        self,
        tenant: str,
        now: datetime | None,
        *,
        created: Sequence[Json] = (),
        updated: Sequence[Json] = (),
        deleted: Sequence[str] = (),
        old: Mapping[str, Json] | None = None,
    ) -> list[str]:
        """Insert ``created``, overwrite ``updated`` and delete the ``deleted`` ids, as the
        methods above do, with one catalogue update for all of them; the ids deleted. ``old``
        holds the stored docs the caller read (for updated and deleted ids; optional)."""
        out = DriverRows(self.conn)
        delta = CatalogueDelta()
        if created:
            assert now is not None
            self._insert(out, tenant, created, now, delta)
        if updated:
            assert now is not None
            self._update(out, tenant, updated, now, old or {}, delta)
        gone = self._delete(tenant, deleted, old or {}, delta) if deleted else []
        delta.apply(out, tenant)
        return gone

    def _insert(
        self,
        out: DriverRows,
        tenant: str,
        docs: Sequence[Json],
        now: datetime,
        delta: CatalogueDelta,
    ) -> None:
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
        out.insert(_TY, _TYPE_COLUMNS, [(tenant, d["id"], t) for d in docs for t in d["type"]])
        for doc in docs:
            delta.add(doc)

    def _update(
        self,
        out: DriverRows,
        tenant: str,
        docs: Sequence[Json],
        now: datetime,
        old: Mapping[str, Json],
        delta: CatalogueDelta,
    ) -> None:
        missing = [doc["id"] for doc in docs if doc["id"] not in old]
        if missing:
            old = {**old, **self.get_many(tenant, missing)}
        stamp = _Stamps(out, now)
        seen = self._seen
        plain: list[tuple[Any, ...]] = []
        checked: list[tuple[Any, ...]] = []
        retyped: list[Json] = []
        for doc in docs:
            entity_id = doc["id"]
            before = old.get(entity_id)
            if before is None:  # absent: the update changes nothing
                continue
            row = (doc["type"][0], out.json(doc["type"]), out.json(doc),
                   stamp(doc.get("modifiedAt")), *_bbox_values(doc), tenant, entity_id)  # fmt: skip
            version = seen.pop((tenant, entity_id), None)
            if version is None:
                plain.append(row)
            else:
                checked.append((*row, version))
            if delta.change(before, doc) and before["type"] != doc["type"]:
                retyped.append(doc)
        out.executemany(_UPDATE, plain)
        if checked:
            applied = self.conn.exec_driver_sql(
                _UPDATE_SEEN if out.qmark else _UPDATE_SEEN.replace("?", "%s"), checked
            ).rowcount
            if applied >= 0 and applied != len(checked):
                raise Conflict("an entity was changed concurrently")
        if retyped:
            for part in chunks([doc["id"] for doc in retyped]):
                self.conn.execute(
                    _TY.delete().where(_TY.c.tenant == tenant, _TY.c.entity_id.in_(part))
                )
            out.insert(
                _TY, _TYPE_COLUMNS, [(tenant, d["id"], t) for d in retyped for t in d["type"]]
            )

    def _delete(
        self, tenant: str, ids: Sequence[str], old: Mapping[str, Json], delta: CatalogueDelta
    ) -> list[str]:
        deleted: list[str] = []
        known = all(i in old for i in ids)
        for part in chunks(list(dict.fromkeys(ids))):
            stmt = _E.delete().where(_E.c.tenant == tenant, _E.c.entity_id.in_(part))
            if known:
                gone = [
                    (str(r[0]), old[r[0]])
                    for r in self.conn.execute(stmt.returning(_E.c.entity_id))
                ]
            else:
                result = self.conn.execute(stmt.returning(_E.c.entity_id, _E.c.doc))
                gone = [(str(r[0]), r[1]) for r in result]
            if gone:
                ids_gone = [i for i, _doc in gone]
                self.conn.execute(
                    _TY.delete().where(_TY.c.tenant == tenant, _TY.c.entity_id.in_(ids_gone))
                )
                for entity_id, doc in gone:
                    self._seen.pop((tenant, entity_id), None)
                    delta.remove(doc)
                deleted.extend(ids_gone)
        return deleted


__all__ = ["EntityWrites"]
