"""The temporal evolution of NGSI-LD entities: ``tx.twin_instances``.

The API speaks ``TemporalRow`` (one attribute instance as it was at a modification time); the
table stores one row per entity change: every instance of an entity written with the same
modification time (one broker write) in one JSON document ``{attr: [[observedAt, instance], ...]}``
(``observedAt`` as ISO text, null when the instance has none), with the range of those observedAt
(``observed_min``/``observed_max``, null when none has one). So a write of an entity with eight
changed attributes costs one row, not eight.

Queries select rows in SQL (tenant, entities, types, the row's time range overlapping the
queried one) and explode and filter them per instance in Python (attributes, datasets, the exact
time of each instance, ``last_n``). Instances outlive their entity: deleting an entity leaves its
history until ``delete_entity`` here is called (DELETE /temporal/entities).

Time filters: ``time_property`` "observedAt" (default) selects and orders by each instance's
observedAt and skips instances without one; "modifiedAt" uses the row's modification time. A range
is half-open: ``start <= time < end`` (start inclusive, end exclusive); either bound may be None. A
caller needing NGSI-LD ``after`` (strictly later) passes ``start = timeAt + 1 µs``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from twinspace.store import twin_tables as tt
from twinspace.store.twin_rows import (
    DriverRows,
    Json,
    TemporalChange,
    TemporalRow,
    literal_prefix,
)

TimeProperty = Literal["observedAt", "modifiedAt"]
INSTANCE_PREFIX = "urn:ngsi-ld:attribute:instance:"

_I = tt.twin_instances
_TY = tt.twin_entity_types
_COLUMNS = ("tenant", "entity_id", "entity_type", "modified_at", "observed_min", "observed_max",
            "instances")  # fmt: skip
_READ = (_I.c.id, _I.c.entity_id, _I.c.entity_type, _I.c.modified_at, _I.c.instances)

Stored = dict[str, list[list[Any]]]  # {attr: [[observedAt text | None, instance], ...]}


def new_instance_id() -> str:
    return f"{INSTANCE_PREFIX}{uuid.uuid4()}"


class _Times:
    """observedAt values as stored text and back, each distinct value converted once."""

    def __init__(self) -> None:
        self.texts: dict[datetime, str] = {}
        self.times: dict[str, datetime] = {}

    def text(self, moment: datetime) -> str:
        found = self.texts.get(moment)
        if found is None:
            if moment.tzinfo is None:
                raise ValueError("naive datetime given to the store")
            found = self.texts[moment] = moment.astimezone(UTC).isoformat()
        return found

    def time(self, text: str | None) -> datetime | None:
        if text is None:
            return None
        found = self.times.get(text)
        if found is None:
            found = self.times[text] = datetime.fromisoformat(text)
        return found

    def bounds(self, stored: Stored) -> tuple[datetime | None, datetime | None]:
        moments = [
            datetime.fromisoformat(text)
            for entries in stored.values()
            for text, _instance in entries
            if text is not None
        ]
        return (min(moments), max(moments)) if moments else (None, None)


class TwinInstances:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_many(self, tenant: str, rows: Sequence[TemporalRow]) -> None:
        """Append instances: one table row per (entity, first type, modification time), in one
        statement. An instance without ``instanceId`` gets one (set on the row's ``instance``
        dict, so the caller sees it)."""
        if not rows:
            return
        times = _Times()
        groups: dict[tuple[str, str, datetime], TemporalChange] = {}
        base = ""
        fresh = 0
        for row in rows:
            key = (row.entity_id, row.entity_type, row.modified_at)
            group = groups.get(key)
            if group is None:
                group = groups[key] = TemporalChange(*key, None, None, {})
            instance = row.instance
            if not instance.get("instanceId"):
                base = base or f"{new_instance_id()}:"
                instance["instanceId"] = f"{base}{fresh}"
                fresh += 1
            observed = row.observed_at
            text = None
            if observed is not None:
                text = times.text(observed)
                if group.observed_min is None or observed < group.observed_min:
                    group.observed_min = observed
                if group.observed_max is None or observed > group.observed_max:
                    group.observed_max = observed
            group.instances.setdefault(row.attr, []).append([text, instance])
        self.add_changes(tenant, list(groups.values()))

    def add_changes(self, tenant: str, changes: Sequence[TemporalChange]) -> None:
        """Append entity changes as they are (one table row each, one statement); the caller
        has given every instance its ``instanceId`` and the observedAt texts and bounds."""
        if not changes:
            return
        out = DriverRows(self.conn)
        values = [
            (tenant, c.entity_id, c.entity_type, out.time(c.modified_at), out.time(c.observed_min),
             out.time(c.observed_max), out.json(c.instances))
            for c in changes
        ]  # fmt: skip
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
        observed = _observed(time_property)
        conditions = self._conditions(tenant, entity_ids, types, observed, start, end)
        wanted = None if attrs is None else frozenset(attrs)
        datasets = None if dataset_ids is None else frozenset(dataset_ids)
        times = _Times()
        found: list[tuple[tuple[Any, ...], TemporalRow]] = []
        for row_id, entity_id, entity_type, modified, stored in self.conn.execute(
            sa.select(*_READ).where(*conditions)
        ):
            for attr, entries in stored.items():
                if wanted is not None and attr not in wanted:
                    continue
                for position, (text, instance) in enumerate(entries):
                    dataset = instance.get("datasetId") or ""
                    if datasets is not None and dataset not in datasets:
                        continue
                    at = times.time(text)
                    when = at if observed else modified
                    if when is None or (start is not None and when < start):
                        continue
                    if end is not None and when >= end:
                        continue
                    found.append(
                        (
                            (entity_id, attr, when, row_id, position),
                            TemporalRow(
                                entity_id, entity_type, attr, dataset, at, modified, instance
                            ),
                        )
                    )
        found.sort(key=lambda item: item[0])
        if last_n is None:
            return [row for _key, row in found]
        kept: list[TemporalRow] = []
        series: list[TemporalRow] = []
        current: tuple[str, str] | None = None
        for (entity_id, attr, *_rest), row in found:
            if (entity_id, attr) != current:
                kept.extend(series[-last_n:] if last_n > 0 else ())
                series, current = [], (entity_id, attr)
            series.append(row)
        kept.extend(series[-last_n:] if last_n > 0 else ())
        return kept

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
        with their instances in the range, sorted). ``id_pattern`` as in
        ``TwinEntities.query``."""
        observed = _observed(time_property)
        conditions = self._conditions(tenant, ids, types, observed, start, end)
        regex = None
        if id_pattern is not None:
            regex = re.compile(id_pattern)
            prefix, anchored = literal_prefix(id_pattern)
            if prefix:
                like = _I.c.entity_id.startswith if anchored else _I.c.entity_id.contains
                conditions.append(like(prefix, autoescape=True))
        found: dict[str, set[str]] = {}
        certain = list(conditions)
        if observed and start is not None and end is not None:
            # A row whose observed range reaches over both ends may have no instance inside it.
            c = _I.c
            certain.append(sa.or_(c.observed_min >= start, c.observed_max < end))
            straddling = sa.select(c.entity_id, c.entity_type, c.instances).where(
                *conditions, c.observed_min < start, c.observed_max >= end
            )
            times = _Times()
            for entity_id, entity_type, stored in self.conn.execute(straddling):
                if any(
                    (at := times.time(text)) is not None and start <= at < end
                    for entries in stored.values()
                    for text, _instance in entries
                ):
                    found.setdefault(entity_id, set()).add(entity_type)
        stmt = sa.select(_I.c.entity_id, _I.c.entity_type).where(*certain).distinct()
        for entity_id, entity_type in self.conn.execute(stmt):
            found.setdefault(entity_id, set()).add(entity_type)
        chosen = sorted(found)
        if regex is not None:
            chosen = [i for i in chosen if regex.search(i)]
        chosen = chosen[offset:] if limit is None else chosen[offset : offset + limit]
        return [(i, sorted(found[i])) for i in chosen]

    def delete_entity(self, tenant: str, entity_id: str) -> int:
        """Delete every instance of the entity; how many."""
        c = _I.c
        result = self.conn.execute(
            _I.delete().where(c.tenant == tenant, c.entity_id == entity_id).returning(c.instances)
        )
        return sum(len(entries) for (stored,) in result for entries in stored.values())

    def delete_attr(self, tenant: str, entity_id: str, attr: str, dataset_id: str | None) -> int:
        """Delete the attribute's instances: of one dataset ("" = default) or all (None)."""
        removed = 0
        for row_id, _type, _modified, stored in self._containing(tenant, entity_id, attr):
            entries = stored.get(attr)
            if not entries:
                continue
            kept = [
                entry
                for entry in entries
                if dataset_id is not None and (entry[1].get("datasetId") or "") != dataset_id
            ]
            if len(kept) == len(entries):
                continue
            removed += len(entries) - len(kept)
            if kept:
                stored[attr] = kept
            else:
                del stored[attr]
            self._rewrite(row_id, stored)
        return removed

    def delete_instance(self, tenant: str, entity_id: str, attr: str, instance_id: str) -> bool:
        found = self._find(tenant, entity_id, attr, instance_id)
        if found is None:
            return False
        row_id, _type, _modified, stored, position = found
        self._drop(row_id, stored, attr, position)
        return True

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
        keeps ``instance_id`` and takes its dataset from ``instance``. False when absent. The
        instance moves to a row of its own (its new modification time)."""
        found = self._find(tenant, entity_id, attr, instance_id)
        if found is None:
            return False
        row_id, entity_type, _modified, stored, position = found
        self._drop(row_id, stored, attr, position)
        stored_instance = {**instance, "instanceId": instance_id}
        dataset = str(instance.get("datasetId") or "")
        self.add_many(
            tenant,
            [TemporalRow(entity_id, entity_type, attr, dataset, observed_at, modified_at,
                         stored_instance)],
        )  # fmt: skip
        return True

    # --- internals --------------------------------------------------------------------------

    @staticmethod
    def _conditions(
        tenant: str,
        entity_ids: Sequence[str] | None,
        types: Sequence[str] | None,
        observed: bool,
        start: datetime | None,
        end: datetime | None,
    ) -> list[sa.ColumnElement[bool]]:
        """Rows that may hold a matching instance: their time range overlaps [start, end)."""
        c = _I.c
        conditions: list[sa.ColumnElement[bool]] = [c.tenant == tenant]
        if entity_ids is not None:
            conditions.append(c.entity_id.in_(list(entity_ids)))
        if types is not None:
            typed = sa.select(_TY.c.entity_id).where(_TY.c.tenant == tenant, _TY.c.type.in_(types))
            conditions.append(sa.or_(c.entity_type.in_(list(types)), c.entity_id.in_(typed)))
        if observed:
            conditions.append(c.observed_min.is_not(None))
            if start is not None:
                conditions.append(c.observed_max >= start)
            if end is not None:
                conditions.append(c.observed_min < end)
        else:
            if start is not None:
                conditions.append(c.modified_at >= start)
            if end is not None:
                conditions.append(c.modified_at < end)
        return conditions

    def _containing(
        self, tenant: str, entity_id: str, text: str
    ) -> Iterable[tuple[int, str, datetime, Stored]]:
        """The entity's rows whose JSON contains ``text`` as a JSON string (a prefilter)."""
        c = _I.c
        needle = orjson.dumps(text).decode()
        stmt = sa.select(c.id, c.entity_type, c.modified_at, c.instances).where(
            c.tenant == tenant,
            c.entity_id == entity_id,
            sa.cast(c.instances, sa.Text).contains(needle, autoescape=True),
        )
        return [(int(r[0]), str(r[1]), r[2], r[3]) for r in self.conn.execute(stmt.order_by(c.id))]

    def _find(
        self, tenant: str, entity_id: str, attr: str, instance_id: str
    ) -> tuple[int, str, datetime, Stored, int] | None:
        for row_id, entity_type, modified, stored in self._containing(
            tenant, entity_id, instance_id
        ):
            for position, (_text, instance) in enumerate(stored.get(attr, ())):
                if instance.get("instanceId") == instance_id:
                    return row_id, entity_type, modified, stored, position
        return None

    def _drop(self, row_id: int, stored: Stored, attr: str, position: int) -> None:
        entries = stored[attr]
        del entries[position]
        if not entries:
            del stored[attr]
        self._rewrite(row_id, stored)

    def _rewrite(self, row_id: int, stored: Stored) -> None:
        """Store the row's changed instances (delete it when none is left)."""
        c = _I.c
        if not stored:
            self.conn.execute(_I.delete().where(c.id == row_id))
            return
        low, high = _Times().bounds(stored)
        self.conn.execute(
            _I.update()
            .where(c.id == row_id)
            .values(instances=stored, observed_min=low, observed_max=high)
        )


def _observed(time_property: str) -> bool:
    if time_property == "observedAt":
        return True
    if time_property == "modifiedAt":
        return False
    raise ValueError(f"unsupported time property {time_property!r}")


__all__ = ["INSTANCE_PREFIX", "TimeProperty", "TwinInstances", "new_instance_id"]
