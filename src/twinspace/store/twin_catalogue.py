"""The per-tenant attribute catalogue of the twin broker (``twin_catalogue``).

One row per (tenant, entity type, attribute, attribute type) counts the entities of that type
having an instance of that attribute and kind; a row with attribute "" (and attribute type "")
counts the entities of the type. It answers ``/types``, ``/attributes`` and narrows the
``attrs`` filter of entity queries to the types that have any of the attributes.

Writers never rewrite per-entity rows: each call aggregates, over all the entities it writes, the
difference between their old and new catalogue keys (``CatalogueDelta``) and applies it with one
``INSERT ... ON CONFLICT DO UPDATE SET entities = entities + excluded.entities`` executemany
(SQLite >= 3.24, PostgreSQL), then deletes the rows it decremented that reached 0. The increments
are atomic, so concurrent writers never lose a count; the keys are applied in sorted order, so two
writers lock catalogue rows in the same order (no deadlock between them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from twinspace.store import twin_tables as tt
from twinspace.store.twin_rows import DriverRows, Json

Key = tuple[str, str, str]  # (entity type, attribute, attribute type); ("T", "", ""): the type

_C = tt.twin_catalogue
_UPSERT = (
    "INSERT INTO twin_catalogue (tenant, entity_type, attr, attr_type, entities)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, entity_type, attr, attr_type)"
    " DO UPDATE SET entities = twin_catalogue.entities + excluded.entities"
)
_PRUNE = (
    "DELETE FROM twin_catalogue WHERE tenant = ? AND entity_type = ? AND attr = ?"
    " AND attr_type = ? AND entities <= 0"
)


def catalogue_keys(doc: Json) -> frozenset[Key]:
    """What the catalogue counts of an entity: each of its types, and each (attribute, instance
    type) pair under each of its types."""
    pairs = {
        (attr, str(instance.get("type", "Property")))
        for attr, instances in doc.get("attrs", {}).items()
        for instance in instances
    }
    pairs.add(("", ""))
    return frozenset((t, attr, kind) for t in doc["type"] for attr, kind in pairs)


def _same_shape(before: Json, after: Json) -> bool:
    """Whether the two docs surely have the same catalogue keys (a quick test for the common
    update that only changes values: same types, attributes and instance types in order)."""
    if before["type"] != after["type"]:
        return False
    old, new = before.get("attrs", {}), after.get("attrs", {})
    if old.keys() != new.keys():
        return False
    for attr, instances in new.items():
        was = old[attr]
        if len(was) != len(instances):
            return False
        for a, b in zip(was, instances, strict=True):
            if a.get("type", "Property") != b.get("type", "Property"):
                return False
    return True


class CatalogueDelta:
    """Count changes gathered over one write call, applied at once by ``apply``."""

    def __init__(self) -> None:
        self.counts: dict[Key, int] = {}

    def add(self, doc: Json) -> None:
        self._bump(catalogue_keys(doc), 1)

    def remove(self, doc: Json) -> None:
        self._bump(catalogue_keys(doc), -1)

    def change(self, before: Json, after: Json) -> bool:
        """Record ``before`` becoming ``after``; whether their types or attribute sets differ."""
        if _same_shape(before, after):
            return False
        old, new = catalogue_keys(before), catalogue_keys(after)
        if old == new:
            return False
        self._bump(new - old, 1)
        self._bump(old - new, -1)
        return True

    def _bump(self, keys: Iterable[Key], step: int) -> None:
        counts = self.counts
        for key in keys:
            counts[key] = counts.get(key, 0) + step

    def apply(self, out: DriverRows, tenant: str) -> None:
        changed = sorted((key, n) for key, n in self.counts.items() if n)
        self.counts = {}
        if not changed:
            return
        out.executemany(_UPSERT, [(tenant, *key, n) for key, n in changed])
        out.executemany(_PRUNE, [(tenant, *key) for key, n in changed if n < 0])


class Catalogue:
    """Reads of the catalogue."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def types(self, tenant: str) -> list[tuple[str, int]]:
        """Every entity type of the tenant with its entity count, sorted by type."""
        stmt = (
            sa.select(_C.c.entity_type, _C.c.entities)
            .where(_C.c.tenant == tenant, _C.c.attr == "", _C.c.attr_type == "")
            .order_by(_C.c.entity_type)
        )
        return [(str(t), int(n)) for t, n in self.conn.execute(stmt)]

    def attributes(self, tenant: str) -> list[tuple[str, list[str], list[str]]]:
        """Every attribute of the tenant: (attr, its instance types, the entity types having it)."""
        stmt = sa.select(_C.c.attr, _C.c.attr_type, _C.c.entity_type).where(
            _C.c.tenant == tenant, _C.c.attr != ""
        )
        found: dict[str, tuple[set[str], set[str]]] = {}
        for attr, attr_type, entity_type in self.conn.execute(stmt):
            kinds, types = found.setdefault(str(attr), (set(), set()))
            kinds.add(str(attr_type))
            types.add(str(entity_type))
        return [(a, sorted(k), sorted(t)) for a, (k, t) in sorted(found.items())]

    def type_attributes(self, tenant: str, entity_type: str) -> list[tuple[str, list[str]]]:
        """The attributes of entities of ``entity_type``: (attr, its instance types), by attr."""
        stmt = sa.select(_C.c.attr, _C.c.attr_type).where(
            _C.c.tenant == tenant, _C.c.entity_type == entity_type, _C.c.attr != ""
        )
        found: dict[str, set[str]] = {}
        for attr, attr_type in self.conn.execute(stmt):
            found.setdefault(str(attr), set()).add(str(attr_type))
        return [(a, sorted(k)) for a, k in sorted(found.items())]

    def types_having(self, tenant: str, attrs: Sequence[str]) -> list[str]:
        """The entity types of which some entity has any of ``attrs``, sorted."""
        stmt = (
            sa.select(_C.c.entity_type)
            .where(_C.c.tenant == tenant, _C.c.attr.in_(list(attrs)))
            .distinct()
        )
        return sorted(str(r[0]) for r in self.conn.execute(stmt))


__all__ = ["Catalogue", "CatalogueDelta", "Key", "catalogue_keys"]
