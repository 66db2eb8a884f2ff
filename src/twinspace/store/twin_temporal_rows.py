"""The temporal evolution of NGSI-LD entities: ``tx.twin_instances``.

One row per attribute instance change (``TemporalRow``). Instances outlive their entity: deleting
an entity leaves its history until ``delete_entity`` here is called (DELETE /temporal/entities).

Time filters: ``time_property`` "observedAt" (default) selects and orders by ``observed_at`` and
skips instances without one; "modifiedAt" uses ``modified_at``. A range is half-open:
``start <= time < end`` (start inclusive, end exclusive); either bound may be None. A caller
needing NGSI-LD ``after`` (strictly later) passes ``start = timeAt + 1 µs``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from twinspace.store import twin_tables as tt
from twinspace.store.twin_rows import DriverRows, Json, TemporalRow, literal_prefix

TimeProperty = Literal["observedAt", "modifiedAt"]
INSTANCE_PREFIX = "urn:ngsi-ld:attribute:instance:"

_I = tt.twin_instances
_TY = tt.twin_entity_types
_COLUMNS = ("tenant", "entity_id", "entity_type", "attr", "dataset_id", "observed_at",
            "modified_at", "instance_id", "instance")  # fmt: skip


def new_instance_id() -> str:
    return f"{INSTANCE_PREFIX}{uuid.uuid4()}"


class TwinInstances:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_many(self, tenant: str, rows: Sequence[TemporalRow]) -> None:
        """Append instances in one statement. An instance without ``instanceId`` gets one
        (set on the row's ``instance`` dict, so the caller sees it)."""
        if not rows:
            return
        out = DriverRows(self.conn)
        values = []
        for row in rows:
            instance_id = row.instance.get("instanceId")
            if not instance_id:
                instance_id = row.instance["instanceId"] = new_instance_id()
            values.append(
                (tenant, row.entity_id, row.entity_type, row.attr, row.dataset_id,
                 out.time(row.observed_at), out.time(row.modified_at), instance_id,
                 out.json(row.instance))
            )  # fmt: skip
        out.insert(_I, _COLUMNS, values)

    def query(
        self,
        tenant: str,
        *,
        entity_ids: Sequence[str] | None = None,
        types: Sequence[str] | None = None,
        attrs: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        time_property: TimeProperty = "observedAt",
        last_n: int | None = None,
        dataset_ids: Sequence[str] | None = None,
    ) -> list[TemporalRow]:
        """Instances matching every filter, ordered by (entity_id, attr, time, insertion).

        ``types`` matches an entity's first type as recorded with the instance, or any type the
        entity has now; ``dataset_ids`` uses "" for default instances; ``last_n`` keeps the
        newest ``last_n`` instances of each (entity, attribute) within the range, still returned
        oldest first.
        """
        when = self._time(time_property)
        conditions = self._conditions(tenant, entity_ids, types, when, start, end)
        if attrs is not None:
            conditions.append(_I.c.attr.in_(list(attrs)))
        if dataset_ids is not None:
            conditions.append(_I.c.dataset_id.in_(list(dataset_ids)))
        columns = [_I.c.entity_id, _I.c.entity_type, _I.c.attr, _I.c.dataset_id,
                   _I.c.observed_at, _I.c.modified_at, _I.c.instance]  # fmt: skip
        if last_n is None:
            stmt = (
                sa.select(*columns)
                .where(*conditions)
                .order_by(_I.c.entity_id, _I.c.attr, when, _I.c.id)
            )
        else:
            rank = (
                sa.func.row_number()
                .over(
                    partition_by=(_I.c.entity_id, _I.c.attr), order_by=(when.desc(), _I.c.id.desc())
                )
                .label("rank")
            )
            ranked = sa.select(*columns, when.label("at"), _I.c.id, rank).where(*conditions)
            sub = ranked.subquery()
            stmt = (
                sa.select(*(sub.c[c.name] for c in columns))
                .where(sub.c.rank <= last_n)
                .order_by(sub.c.entity_id, sub.c.attr, sub.c.at, sub.c.id)
            )
        return [TemporalRow(*r) for r in self.conn.execute(stmt)]

    def entity_ids(
        self,
        tenant: str,
        *,
        types: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        id_pattern: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        time_property: TimeProperty = "observedAt",
        offset: int = 0,
        limit: int | None = None,
    ) -> list[tuple[str, list[str]]]:
        """Entities with instances in the range, by id: (entity_id, the first types recorded
        with their instances, sorted). ``id_pattern`` as in ``TwinEntities.query``."""
        when = self._time(time_property)
        conditions = self._conditions(tenant, ids, types, when, start, end)
        regex = None
        if id_pattern is not None:
            regex = re.compile(id_pattern)
            prefix, anchored = literal_prefix(id_pattern)
            if prefix:
                like = _I.c.entity_id.startswith if anchored else _I.c.entity_id.contains
                conditions.append(like(prefix, autoescape=True))
        stmt = sa.select(_I.c.entity_id).where(*conditions).group_by(_I.c.entity_id)
        stmt = stmt.order_by(_I.c.entity_id)
        if regex is None:
            stmt = stmt.offset(offset)
            if limit is not None:
                stmt = stmt.limit(limit)
        chosen = [str(r[0]) for r in self.conn.execute(stmt)]
        if regex is not None:
            chosen = [i for i in chosen if regex.search(i)]
            chosen = chosen[offset:] if limit is None else chosen[offset : offset + limit]
        return self._types_of(tenant, chosen, conditions)

    def delete_entity(self, tenant: str, entity_id: str) -> int:
        """Delete every instance of the entity; how many."""
        c = _I.c
        return int(
            self.conn.execute(
                _I.delete().where(c.tenant == tenant, c.entity_id == entity_id)
            ).rowcount
        )

    def delete_attr(self, tenant: str, entity_id: str, attr: str, dataset_id: str | None) -> int:
        """Delete the attribute's instances: of one dataset ("" = default) or all (None)."""
        c = _I.c
        cond = [c.tenant == tenant, c.entity_id == entity_id, c.attr == attr]
        if dataset_id is not None:
            cond.append(c.dataset_id == dataset_id)
        return int(self.conn.execute(_I.delete().where(*cond)).rowcount)

    def delete_instance(self, tenant: str, entity_id: str, attr: str, instance_id: str) -> bool:
        c = _I.c
        result = self.conn.execute(
            _I.delete().where(c.tenant == tenant, c.entity_id == entity_id, c.attr == attr,
                              c.instance_id == instance_id)
        )  # fmt: skip
        return result.rowcount > 0

    def replace_instance(
        self,
        tenant: str,
        entity_id: str,
        attr: str,
        instance_id: str,
        instance: Json,
        *,
        modified_at: datetime,
        observed_at: datetime | None = None,
    ) -> bool:
        """Overwrite one instance (PATCH /temporal/entities/{id}/attrs/{attr}/{instanceId}); it
        keeps ``instance_id`` and takes its dataset from ``instance``. False when absent."""
        c = _I.c
        stored = {**instance, "instanceId": instance_id}
        result = self.conn.execute(
            _I.update()
            .where(c.tenant == tenant, c.entity_id == entity_id, c.attr == attr,
                   c.instance_id == instance_id)
            .values(instance=stored, dataset_id=str(instance.get("datasetId", "")),
                    observed_at=observed_at, modified_at=modified_at)
        )  # fmt: skip
        return result.rowcount > 0

    # --- internals --------------------------------------------------------------------------

    @staticmethod
    def _time(time_property: str) -> sa.ColumnElement[Any]:
        if time_property == "observedAt":
            return _I.c.observed_at
        if time_property == "modifiedAt":
            return _I.c.modified_at
        raise ValueError(f"unsupported time property {time_property!r}")

    @staticmethod
    def _conditions(
        tenant: str,
        entity_ids: Sequence[str] | None,
        types: Sequence[str] | None,
        when: sa.ColumnElement[Any],
        start: datetime | None,
        end: datetime | None,
    ) -> list[sa.ColumnElement[bool]]:
        conditions: list[sa.ColumnElement[bool]] = [_I.c.tenant == tenant, when.is_not(None)]
        if entity_ids is not None:
            conditions.append(_I.c.entity_id.in_(list(entity_ids)))
        if types is not None:
            typed = sa.select(_TY.c.entity_id).where(_TY.c.tenant == tenant, _TY.c.type.in_(types))
            conditions.append(sa.or_(_I.c.entity_type.in_(list(types)), _I.c.entity_id.in_(typed)))
        if start is not None:
            conditions.append(when >= start)
        if end is not None:
            conditions.append(when < end)
        return conditions

    def _types_of(
        self, tenant: str, ids: list[str], conditions: Iterable[sa.ColumnElement[bool]]
    ) -> list[tuple[str, list[str]]]:
        found: dict[str, set[str]] = {i: set() for i in ids}
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            stmt = (
                sa.select(_I.c.entity_id, _I.c.entity_type)
                .where(*conditions, _I.c.entity_id.in_(part))
                .distinct()
            )
            for entity_id, entity_type in self.conn.execute(stmt):
                found[str(entity_id)].add(str(entity_type))
        return [(i, sorted(found[i])) for i in ids]


__all__ = ["INSTANCE_PREFIX", "TimeProperty", "TwinInstances", "new_instance_id"]
