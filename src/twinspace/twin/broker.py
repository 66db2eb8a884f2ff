"""The broker's write side: entity and batch operations on the store (CIM 009 clauses 5.6, 5.6.7+).

Every operation runs in one transaction: read what it changes, compute the new entities with the
pure functions of ``twin.entity``, check them against their Smart Data Model, save them, keep every
changed attribute instance for the temporal API, and queue the notifications they trigger — so a
change and its notifications are never separated. A concurrent writer that wins a race makes the
whole operation run again (optimistic locking on each entity's version).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from twinspace.clock import Clock, SystemClock
from twinspace.store import Store, Tx, retry_on_conflict
from twinspace.store.twin_rows import TemporalChange
from twinspace.twin import entity as ent
from twinspace.twin.context import TermMap, core_terms
from twinspace.twin.errors import NgsiError
from twinspace.twin.models import ModelCheck

Entity = dict[str, Any]
Change = tuple[Entity | None, Entity | None]
T = TypeVar("T")


class ChangeSink(Protocol):
    """Who hears of changes inside the write transaction (the subscription notifier)."""

    def enqueue(self, tx: Tx, tenant: str, changes: list[Change], now: datetime) -> int: ...


#: The batch operations: entityOperations create, upsert (replace / update), update
#: (overwrite / noOverwrite), merge and delete.
BATCH_MODES = ("create", "upsert", "upsert-update", "update", "update-keep", "merge", "delete")


class BatchWriters(Protocol):
    """Other processes that take over large batches (``twin.writers.WriterPool``)."""

    def takes(self, items: int) -> bool: ...

    def run(
        self,
        broker: Broker,
        tenant: str,
        payloads: list[Any],
        terms: TermMap,
        mode: str,
        moment: datetime,
    ) -> BatchResult: ...


def timestamp(moment: datetime) -> str:
    """NGSI-LD system timestamps: UTC, microseconds, 'Z'."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


@dataclass
class BatchResult:
    """BatchOperationResult (clause 5.2.16): ids that succeeded, and per-entity errors."""

    success: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)

    def fail(self, entity_id: str | None, error: NgsiError) -> None:
        self.errors.append({"entityId": entity_id or "", "error": error.problem()})

    def body(self) -> dict[str, Any]:
        return {"success": self.success, "errors": self.errors}


@dataclass
class UpdateResult:
    """UpdateResult (clause 5.2.18): attributes updated and those that were not, with why."""

    updated: list[str] = field(default_factory=list)
    not_updated: list[dict[str, Any]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        return {"updated": self.updated, "notUpdated": self.not_updated}


def _entity_id(payload: Any) -> str | None:
    value = payload.get("id") if isinstance(payload, dict) else None
    return value if isinstance(value, str) else None


class Broker:
    """Entity and batch operations of one participant's twin (all tenants)."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock | None = None,
        sink: ChangeSink | None = None,
        models: ModelCheck | None = None,
        max_batch: int = 10_000,
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.sink = sink
        self.models = models
        self.max_batch = max_batch
        #: Writer processes that take large batches while set (``Twin.running``); else all here.
        self.writers: BatchWriters | None = None

    # --- helpers ----------------------------------------------------------------------------

    def _now(self) -> tuple[datetime, str]:
        moment = self.clock.now()
        return moment, timestamp(moment)

    def _check_model(self, entity: Entity) -> None:
        if self.models is not None:
            self.models.check(entity)

    def _save(self, tx: Tx, tenant: str, changes: list[Change], moment: datetime) -> None:
        """Write ``changes`` (before, after) in ``tx``: temporal instances first, then the
        entities with their catalogue counts (rows every writer of the tenant shares, so they are
        locked as late as possible), then notifications."""
        if not changes:
            return
        tx.twin_tenants.ensure(tenant, moment)
        created: list[Entity] = []
        updated: list[Entity] = []
        deleted: list[str] = []
        old: dict[str, Entity] = {}
        for before, after in changes:
            if before is None:
                if after is not None:
                    created.append(after)
                continue
            old[before["id"]] = before
            if after is None:
                deleted.append(before["id"])
            else:
                updated.append(after)
        tx.twin_instances.add_changes(tenant, _temporal_changes(changes, moment))
        tx.twin_entities.save_many(
            tenant, moment, created=created, updated=updated, deleted=deleted, old=old
        )
        if self.sink is not None:
            self.sink.enqueue(tx, tenant, changes, moment)

    def _load(self, tx: Tx, tenant: str, entity_id: str) -> Entity:
        _check_id(entity_id)
        found = tx.twin_entities.get(tenant, entity_id)
        if found is None:
            raise NgsiError("ResourceNotFound", f"no entity {entity_id!r}")
        return found

    def _one(self, tenant: str, entity_id: str, change: Callable[[Entity, str], Entity]) -> None:
        def run() -> None:
            moment, now = self._now()
            with self.store.transaction() as tx:
                before = self._load(tx, tenant, entity_id)
                after = change(before, now)
                self._check_model(after)
                self._save(tx, tenant, [(before, after)], moment)

        retry_on_conflict(run)

    # --- single entities ----------------------------------------------------------------------

    def create(self, tenant: str, payload: dict[str, Any], terms: TermMap) -> str:
        moment, now = self._now()
        entity = ent.parse_entity(payload, terms, now)
        self._check_model(entity)

        def run() -> str:
            with self.store.transaction() as tx:
                if tx.twin_entities.get(tenant, entity["id"]) is not None:
                    raise NgsiError("AlreadyExists", f"the entity {entity['id']!r} already exists")
                self._save(tx, tenant, [(None, entity)], moment)
            return str(entity["id"])

        return retry_on_conflict(run)

    def retrieve(self, tenant: str, entity_id: str) -> Entity:
        self.require_tenant(tenant)
        with self.store.transaction() as tx:
            return self._load(tx, tenant, entity_id)

    def require_tenant(self, tenant: str) -> None:
        if tenant:
            with self.store.transaction() as tx:
                if not tx.twin_tenants.exists(tenant):
                    raise NgsiError("NonexistentTenant", f"the tenant {tenant!r} does not exist")

    def replace(self, tenant: str, entity_id: str, payload: dict[str, Any], terms: TermMap) -> None:
        body = {**payload, "id": payload.get("id", entity_id)}
        if body["id"] != entity_id:
            raise NgsiError("BadRequestData", "the entity id in the body differs from the URL's")
        if "type" not in body:
            raise NgsiError("BadRequestData", "a replacement entity needs a type")

        def change(before: Entity, now: str) -> Entity:
            return ent.replace_entity(before, ent.parse_entity(body, terms, now), now)

        self._one(tenant, entity_id, change)

    def merge(self, tenant: str, entity_id: str, payload: dict[str, Any], terms: TermMap) -> None:
        if payload.get("id", entity_id) != entity_id:
            raise NgsiError("BadRequestData", "the entity id in the body differs from the URL's")

        def change(before: Entity, now: str) -> Entity:
            return ent.merge_entity(before, _fragment(payload, terms, now), now)

        self._one(tenant, entity_id, change)

    def delete(self, tenant: str, entity_id: str) -> None:
        def run() -> None:
            moment, _ = self._now()
            with self.store.transaction() as tx:
                before = self._load(tx, tenant, entity_id)
                self._save(tx, tenant, [(before, None)], moment)

        retry_on_conflict(run)

    # --- attributes ---------------------------------------------------------------------------

    def append_attrs(
        self,
        tenant: str,
        entity_id: str,
        payload: dict[str, Any],
        terms: TermMap,
        *,
        no_overwrite: bool = False,
    ) -> UpdateResult:
        result = UpdateResult()

        def change(before: Entity, now: str) -> Entity:
            attrs = ent.parse_attributes(_attrs_only(payload, entity_id), terms, now)
            after, updated, not_updated = ent.append_attrs(
                before, attrs, now, no_overwrite=no_overwrite
            )
            result.updated = [terms.compact(a) for a in updated]
            result.not_updated = _compact_not_updated(not_updated, terms)
            return after

        self._one(tenant, entity_id, change)
        return result

    def update_attrs(
        self, tenant: str, entity_id: str, payload: dict[str, Any], terms: TermMap
    ) -> UpdateResult:
        result = UpdateResult()

        def change(before: Entity, now: str) -> Entity:
            attrs = ent.parse_attributes(_attrs_only(payload, entity_id), terms, now)
            after, updated, not_updated = ent.update_attrs(before, attrs, now)
            result.updated = [terms.compact(a) for a in updated]
            result.not_updated = _compact_not_updated(not_updated, terms)
            return after

        self._one(tenant, entity_id, change)
        return result

    def patch_attr(
        self, tenant: str, entity_id: str, attr: str, payload: dict[str, Any], terms: TermMap
    ) -> None:
        iri = terms.expand(attr)
        dataset_id = payload.get("datasetId") if isinstance(payload.get("datasetId"), str) else None

        def change(before: Entity, now: str) -> Entity:
            return ent.patch_attr(before, iri, payload, now, dataset_id, terms)

        self._one(tenant, entity_id, change)

    def replace_attr(
        self, tenant: str, entity_id: str, attr: str, payload: dict[str, Any], terms: TermMap
    ) -> None:
        iri = terms.expand(attr)

        def change(before: Entity, now: str) -> Entity:
            if iri not in before["attrs"]:
                raise NgsiError("ResourceNotFound", f"the entity has no attribute {attr!r}")
            attrs = ent.parse_attributes({attr: payload}, terms, now)
            after, _updated, not_updated = ent.update_attrs(before, attrs, now)
            if not_updated:
                raise NgsiError("ResourceNotFound", str(not_updated[0].get("reason", attr)))
            return after

        self._one(tenant, entity_id, change)

    def delete_attr(
        self,
        tenant: str,
        entity_id: str,
        attr: str,
        terms: TermMap,
        *,
        dataset_id: str | None = None,
        delete_all: bool = False,
    ) -> None:
        iri = terms.expand(attr)

        def change(before: Entity, now: str) -> Entity:
            return ent.delete_attr(before, iri, now, dataset_id=dataset_id, delete_all=delete_all)

        self._one(tenant, entity_id, change)

    # --- batches ------------------------------------------------------------------------------

    def _batch_guard(self, payloads: list[Any]) -> None:
        if not payloads:
            raise NgsiError("InvalidRequest", "the batch is empty")
        if len(payloads) > self.max_batch:
            raise NgsiError("BadRequestData", f"a batch holds at most {self.max_batch} entities")

    def batch_create(self, tenant: str, payloads: list[Any], terms: TermMap) -> BatchResult:
        return self._batch(tenant, payloads, terms, mode="create")

    def batch_upsert(
        self, tenant: str, payloads: list[Any], terms: TermMap, *, update: bool = False
    ) -> BatchResult:
        return self._batch(tenant, payloads, terms, mode="upsert-update" if update else "upsert")

    def batch_update(
        self, tenant: str, payloads: list[Any], terms: TermMap, *, no_overwrite: bool = False
    ) -> BatchResult:
        return self._batch(
            tenant, payloads, terms, mode="update-keep" if no_overwrite else "update"
        )

    def batch_merge(self, tenant: str, payloads: list[Any], terms: TermMap) -> BatchResult:
        return self._batch(tenant, payloads, terms, mode="merge")

    def _batch(self, tenant: str, payloads: list[Any], terms: TermMap, *, mode: str) -> BatchResult:
        self._batch_guard(payloads)
        pool = self.writers
        if pool is not None and pool.takes(len(payloads)):
            return pool.run(self, tenant, payloads, terms, mode, self.clock.now())
        return self.run_batch(tenant, payloads, terms, mode)

    def run_batch(
        self,
        tenant: str,
        payloads: list[Any],
        terms: TermMap,
        mode: str,
        moment: datetime | None = None,
    ) -> BatchResult:
        """A batch operation (``mode``: one of ``BATCH_MODES``) in this process, in one
        transaction, stamped ``moment`` (default: the clock's now); the writer processes run
        their part of a batch through here too."""
        if mode not in BATCH_MODES:
            raise ValueError(f"unknown batch mode {mode!r}")
        if mode == "delete":
            return self._delete_batch(tenant, payloads, moment)

        def run() -> BatchResult:
            moment_, now = self._now() if moment is None else (moment, timestamp(moment))
            result = BatchResult()
            parsed: list[tuple[Any, Entity | None, dict[str, Any] | None]] = []
            for payload in payloads:
                try:
                    if not isinstance(payload, dict):
                        raise NgsiError("BadRequestData", "a batch item must be a JSON object")
                    if mode in ("create", "upsert", "upsert-update"):
                        parsed.append((payload, ent.parse_entity(payload, terms, now), None))
                    else:
                        eid = _entity_id(payload)
                        _check_id(eid or "")
                        parsed.append((payload, None, payload))
                except NgsiError as exc:
                    result.fail(_entity_id(payload), exc)
            with self.store.transaction() as tx:
                ids = [(e or {}).get("id") or _entity_id(p) for p, e, _f in parsed]
                stored = tx.twin_entities.get_many(tenant, [i for i in ids if i])
                before: dict[str, Entity | None] = {}
                current: dict[str, Entity | None] = dict(stored)
                for (_payload, entity, fragment), eid in zip(parsed, ids, strict=True):
                    assert eid is not None
                    try:
                        after = self._batch_step(
                            mode, current.get(eid), entity, fragment, terms, now
                        )
                        self._check_model(after)
                    except NgsiError as exc:
                        result.fail(eid, exc)
                        continue
                    if eid not in before:
                        before[eid] = current.get(eid)
                    if current.get(eid) is None:
                        result.created.append(eid)
                    current[eid] = after
                    result.success.append(eid)
                changes = [(before[eid], current[eid]) for eid in before]
                self._save(tx, tenant, changes, moment_)
            return result

        return retry_on_conflict(run)

    @staticmethod
    def _batch_step(
        mode: str,
        existing: Entity | None,
        entity: Entity | None,
        fragment: dict[str, Any] | None,
        terms: TermMap,
        now: str,
    ) -> Entity:
        if mode == "create":
            assert entity is not None
            if existing is not None:
                raise NgsiError("AlreadyExists", f"the entity {entity['id']!r} already exists")
            return entity
        if mode in ("upsert", "upsert-update"):
            assert entity is not None
            if existing is None:
                return entity
            if mode == "upsert":
                return ent.replace_entity(existing, entity, now)
            after, _u, _n = ent.append_attrs(existing, entity["attrs"], now, no_overwrite=False)
            return after
        assert fragment is not None
        eid = str(fragment.get("id"))
        if existing is None:
            raise NgsiError("ResourceNotFound", f"no entity {eid!r}")
        if mode == "merge":
            return ent.merge_entity(existing, _fragment(fragment, terms, now), now)
        attrs = ent.parse_attributes(_attrs_only(fragment, eid), terms, now)
        after, _u, _n = ent.append_attrs(existing, attrs, now, no_overwrite=(mode == "update-keep"))
        return after

    def batch_delete(self, tenant: str, ids: list[Any]) -> BatchResult:
        return self._batch(tenant, ids, core_terms(), mode="delete")

    def _delete_batch(self, tenant: str, ids: list[Any], moment: datetime | None) -> BatchResult:
        def run() -> BatchResult:
            moment_ = self._now()[0] if moment is None else moment
            result = BatchResult()
            wanted: list[str] = []
            for eid in ids:
                try:
                    if not isinstance(eid, str):
                        raise NgsiError(
                            "BadRequestData", "a batch delete lists entity ids (strings)"
                        )
                    _check_id(eid)
                    wanted.append(eid)
                except NgsiError as exc:
                    result.fail(eid if isinstance(eid, str) else None, exc)
            with self.store.transaction() as tx:
                stored = tx.twin_entities.get_many(tenant, wanted)
                changes: list[Change] = []
                for eid in wanted:
                    found = stored.pop(eid, None)
                    if found is None:
                        result.fail(eid, NgsiError("ResourceNotFound", f"no entity {eid!r}"))
                        continue
                    changes.append((found, None))
                    result.success.append(eid)
                self._save(tx, tenant, changes, moment_)
            return result

        return retry_on_conflict(run)


def _check_id(entity_id: str) -> None:
    if not ent.is_uri(entity_id):
        raise NgsiError("BadRequestData", f"{entity_id!r} is not a valid entity id (a URI)")


def _attrs_only(payload: dict[str, Any], entity_id: str) -> dict[str, Any]:
    if "id" in payload and payload["id"] != entity_id:
        raise NgsiError("BadRequestData", "the entity id in the body differs from the URL's")
    return {k: v for k, v in payload.items() if k not in ("id", "type", "@context")}


def _fragment(payload: dict[str, Any], terms: TermMap, now: str) -> dict[str, Any]:
    return ent.parse_fragment(
        {k: v for k, v in payload.items() if k not in ("id", "@context")}, terms, now
    )


def _compact_not_updated(items: Iterable[dict[str, Any]], terms: TermMap) -> list[dict[str, Any]]:
    out = []
    for item in items:
        name = item.get("attributeName", "")
        out.append({**item, "attributeName": terms.compact(name) if name else name})
    return out


def _temporal_changes(changes: list[Change], moment: datetime) -> list[TemporalChange]:
    """The temporal table's row for each entity of ``changes`` that has changed instances,
    stamped ``moment``. The instance ids share one random UUID per call and end with a counter:
    ``urn:ngsi-ld:attribute:instance:<uuid>:<n>``. Each distinct observedAt text is parsed once."""
    out: list[TemporalChange] = []
    times: dict[str, tuple[datetime, str] | None] = {}
    base = f"urn:ngsi-ld:attribute:instance:{uuid.uuid4()}:"
    count = 0
    for before, after in changes:
        if after is None:
            continue
        changed = (
            [(a, i) for a, instances in after["attrs"].items() for i in instances]
            if before is None
            else ent.changed_instances(before, after)
        )
        if not changed:
            continue
        grouped: dict[str, list[list[Any]]] = {}
        low: datetime | None = None
        high: datetime | None = None
        for attr, instance in changed:
            text = instance.get("observedAt")
            stored_text = None
            if text is not None:
                if text in times:
                    known = times[text]
                else:
                    observed = parse_time(text)
                    known = times[text] = (
                        None if observed is None else (observed, observed.isoformat())
                    )
                if known is not None:
                    observed, stored_text = known
                    if low is None or observed < low:
                        low = observed
                    if high is None or observed > high:
                        high = observed
            entry = [stored_text, {**instance, "instanceId": f"{base}{count}"}]
            count += 1
            found = grouped.get(attr)
            if found is None:
                grouped[attr] = [entry]
            else:
                found.append(entry)
        out.append(TemporalChange(after["id"], after["type"][0], moment, low, high, grouped))
    return out
