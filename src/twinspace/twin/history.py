"""The temporal API's service (CIM 009 clauses 5.6.11-5.6.17, 5.7.3-5.7.4): every change of an
attribute instance is kept with its observedAt; queries select entities with instances in a time
range and render them normalized, as temporalValues or aggregated.

``q`` and geo-queries of a temporal query are evaluated on the entities' current state (an
entity that no longer exists is then left out); the time range and lastN on their history.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal, cast

from twinspace.clock import Clock
from twinspace.store import Store
from twinspace.store.twin_rows import TemporalRow
from twinspace.twin.aggregate import Aggregation
from twinspace.twin.broker import parse_time, timestamp
from twinspace.twin.context import TermMap
from twinspace.twin.entity import is_uri, parse_attributes, parse_types
from twinspace.twin.errors import NgsiError
from twinspace.twin.querying import EntityQuery, candidate_filter
from twinspace.twin.temporal import TimeFilter, render_temporal

Entity = dict[str, Any]
Form = Literal["normalized", "temporalValues", "aggregated"]
TimeProperty = Literal["observedAt", "modifiedAt"]


@dataclass(frozen=True)
class TemporalQuery:
    entities: EntityQuery  # types, ids, id_pattern, attrs, q, geo, limit, offset, count
    time: TimeFilter | None = None
    last_n: int | None = None
    form: Form = "normalized"
    aggregation: Aggregation | None = None
    sys_attrs: bool = False
    timeproperty: str = "observedAt"  # the ``timeproperty`` parameter, also without timerel

    @property
    def time_property(self) -> TimeProperty:
        """The time the instances are paired with, ranged and ordered by."""
        prop = self.time.time_property if self.time is not None else self.timeproperty
        return cast(TimeProperty, "modifiedAt" if prop in ("modifiedAt", "createdAt") else prop)

    @property
    def stored_time(self) -> TimeProperty:
        """The stored time the store selects and orders by: without a time range every instance
        counts, also one without observedAt, so then the modification time selects them."""
        return "modifiedAt" if self.time is None else self.time_property


@dataclass
class TemporalResult:
    entities: list[dict[str, Any]]
    total: int | None


class History:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    # --- reading ------------------------------------------------------------------------------

    def _render(
        self,
        rows: list[TemporalRow],
        ids: list[tuple[str, list[str]]],
        query: TemporalQuery,
        terms: TermMap,
    ) -> list[dict[str, Any]]:
        grouped: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
        if query.time_property == "observedAt" and query.stored_time != "observedAt":
            rows = sorted(rows, key=lambda r: (r.entity_id, r.attr, r.observed_at or r.modified_at))
        for row in rows:
            grouped[row.entity_id][row.attr].append(row.instance)
        out = []
        for entity_id, types in ids:
            out.append(
                render_temporal(
                    entity_id,
                    types,
                    grouped.get(entity_id, {}),
                    terms,
                    form=query.form,
                    sys_attrs=query.sys_attrs,
                    aggregation=query.aggregation,
                    time_filter=query.time,
                    time_property=query.time_property,
                )
            )
        return out

    def query(self, tenant: str, query: TemporalQuery, terms: TermMap) -> TemporalResult:
        q = query.entities
        start = query.time.start if query.time else None
        end = query.time.end if query.time else None
        types = None
        if q.types is not None:
            types = sorted({t for group in q.types.any_of for t in group})
        needs_state = q.q is not None or q.geo is not None
        with self.store.transaction() as tx:
            ids = tx.twin_instances.entity_ids(
                tenant,
                types=types,
                ids=q.ids,
                id_pattern=q.id_pattern,
                start=start,
                end=end,
                time_property=query.stored_time,
            )
            if q.types is not None:
                selector = q.types
                ids = [(i, t) for i, t in ids if selector.matches(t)]
            if needs_state:
                keep = candidate_filter(EntityQuery(q=q.q, geo=q.geo), terms)
                current = tx.twin_entities.get_many(tenant, [i for i, _t in ids])
                ids = [(i, t) for i, t in ids if i in current and keep(current[i])]
            total = len(ids) if q.count else None
            page = ids[q.offset : q.offset + q.limit]
            rows = (
                tx.twin_instances.query(
                    tenant,
                    entity_ids=[i for i, _t in page],
                    attrs=q.attrs,
                    start=start,
                    end=end,
                    time_property=query.stored_time,
                    last_n=query.last_n,
                )
                if page
                else []
            )
        return TemporalResult(self._render(rows, page, query, terms), total)

    def entity(
        self, tenant: str, entity_id: str, query: TemporalQuery, terms: TermMap
    ) -> dict[str, Any]:
        if not is_uri(entity_id):
            raise NgsiError("BadRequestData", f"{entity_id!r} is not a valid entity id (a URI)")
        single = TemporalQuery(
            entities=EntityQuery(ids=[entity_id], attrs=query.entities.attrs, limit=1),
            time=query.time,
            last_n=query.last_n,
            form=query.form,
            aggregation=query.aggregation,
            sys_attrs=query.sys_attrs,
            timeproperty=query.timeproperty,
        )
        with self.store.transaction() as tx:
            known = tx.twin_instances.entity_ids(
                tenant, ids=[entity_id], time_property="modifiedAt"
            )
        if not known:
            raise NgsiError("ResourceNotFound", f"no temporal evolution of {entity_id!r}")
        result = self.query(tenant, single, terms)
        if result.entities:
            return result.entities[0]
        types = known[0][1]
        return render_temporal(
            entity_id,
            types,
            {},
            terms,
            form=query.form,
            aggregation=query.aggregation,
            time_filter=query.time,
            time_property=query.time_property,
        )

    # --- writing ------------------------------------------------------------------------------

    def _rows(
        self, entity_id: str, entity_type: str, payload: dict[str, Any], terms: TermMap
    ) -> list[TemporalRow]:
        moment = self.clock.now()
        now = timestamp(moment)
        rows = []
        for name, value in payload.items():
            if name in ("id", "type", "@context", "scope", "createdAt", "modifiedAt"):
                continue
            items = value if isinstance(value, list) else [value]
            for item in items:
                parsed = parse_attributes({name: item}, terms, now)
                for attr, instances in parsed.items():
                    for instance in instances:
                        stored = {
                            **instance,
                            "instanceId": instance.get("instanceId")
                            or f"urn:ngsi-ld:attribute:instance:{uuid.uuid4()}",
                        }
                        rows.append(
                            TemporalRow(
                                entity_id=entity_id,
                                entity_type=entity_type,
                                attr=attr,
                                dataset_id=instance.get("datasetId") or "",
                                observed_at=parse_time(instance.get("observedAt")),
                                modified_at=moment,
                                instance=stored,
                            )
                        )
        return rows

    def upsert(self, tenant: str, payload: dict[str, Any], terms: TermMap) -> bool:
        """Add a temporal evolution (clause 5.6.11); True when the entity was new to it."""
        entity_id = payload.get("id")
        if not isinstance(entity_id, str) or not is_uri(entity_id):
            raise NgsiError("BadRequestData", "a temporal entity needs an id that is a URI")
        if "type" not in payload:
            raise NgsiError("BadRequestData", "a temporal entity needs a type")
        types = parse_types(payload["type"], terms)
        rows = self._rows(entity_id, types[0], payload, terms)
        with self.store.transaction() as tx:
            tx.twin_tenants.ensure(tenant, self.clock.now())
            new = not tx.twin_instances.entity_ids(
                tenant, ids=[entity_id], time_property="modifiedAt"
            )
            if rows:
                tx.twin_instances.add_many(tenant, rows)
            elif new:
                raise NgsiError("BadRequestData", "a new temporal entity needs an attribute")
        return new

    def _known(self, tx: Any, tenant: str, entity_id: str) -> str:
        found = tx.twin_instances.entity_ids(tenant, ids=[entity_id], time_property="modifiedAt")
        if not found:
            raise NgsiError("ResourceNotFound", f"no temporal evolution of {entity_id!r}")
        return str(found[0][1][0])

    def add_attrs(
        self, tenant: str, entity_id: str, payload: dict[str, Any], terms: TermMap
    ) -> None:
        with self.store.transaction() as tx:
            entity_type = self._known(tx, tenant, entity_id)
            rows = self._rows(entity_id, entity_type, payload, terms)
            if not rows:
                raise NgsiError("BadRequestData", "no attribute instance given")
            tx.twin_instances.add_many(tenant, rows)

    def delete(self, tenant: str, entity_id: str) -> None:
        with self.store.transaction() as tx:
            if tx.twin_instances.delete_entity(tenant, entity_id) == 0:
                raise NgsiError("ResourceNotFound", f"no temporal evolution of {entity_id!r}")

    def delete_attr(
        self, tenant: str, entity_id: str, attr: str, *, dataset_id: str | None, delete_all: bool
    ) -> None:
        chosen = None if delete_all else (dataset_id or "")
        with self.store.transaction() as tx:
            if tx.twin_instances.delete_attr(tenant, entity_id, attr, chosen) == 0:
                raise NgsiError("ResourceNotFound", f"no instances of {attr!r} in {entity_id!r}")

    def delete_instance(self, tenant: str, entity_id: str, attr: str, instance_id: str) -> None:
        with self.store.transaction() as tx:
            if not tx.twin_instances.delete_instance(tenant, entity_id, attr, instance_id):
                raise NgsiError("ResourceNotFound", f"no instance {instance_id!r} of {attr!r}")

    def replace_instance(
        self,
        tenant: str,
        entity_id: str,
        attr: str,
        instance_id: str,
        payload: dict[str, Any],
        terms: TermMap,
    ) -> None:
        moment = self.clock.now()
        name = terms.compact(attr)
        parsed = parse_attributes({name: payload}, terms, timestamp(moment))
        instance = next(iter(parsed.values()))[0]
        with self.store.transaction() as tx:
            done = tx.twin_instances.replace_instance(
                tenant,
                entity_id,
                attr,
                instance_id,
                instance,
                modified_at=moment,
                observed_at=parse_time(instance.get("observedAt")),
            )
        if not done:
            raise NgsiError("ResourceNotFound", f"no instance {instance_id!r} of {name!r}")
