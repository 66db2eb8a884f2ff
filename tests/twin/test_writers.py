"""Writer processes (``twin.writers``): real processes over a real store (both backends), checked
against the same batches run in the server process."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from twinspace.clock import ManualClock
from twinspace.store import Store
from twinspace.store.twin_rows import SubscriptionRow
from twinspace.store.twin_tables import twin_instances, twin_notifications
from twinspace.twin.broker import BatchResult, Broker
from twinspace.twin.context import TermMap
from twinspace.twin.notifier import Notifier
from twinspace.twin.subscription import parse_subscription
from twinspace.twin.writers import WriterConfig, WriterPool, merge, partition

EX = "https://example.org/ns/"
CTX_URL = "https://example.org/ctx.jsonld"  # held by the server process only
CTX = {"Vehicle": f"{EX}Vehicle", "speed": f"{EX}speed"}
TERMS = TermMap.build([CTX])
MOMENT = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def vehicle(n: int, speed: float) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Vehicle:{n}",
        "type": "Vehicle",
        "speed": {"type": "Property", "value": speed, "observedAt": "2026-11-25T07:59:00Z"},
    }


# --- the pure parts --------------------------------------------------------------------------


def test_partition_puts_every_entity_on_one_writer_keeping_the_batch_order() -> None:
    payloads: list[Any] = [vehicle(n % 7, n) for n in range(40)] + ["not an entity", {"x": 1}]
    parts = partition(payloads, 3, "upsert")
    assert sorted(i for part in parts for i in part) == list(range(len(payloads)))
    for part in parts:
        assert part == sorted(part)
    owner: dict[str, int] = {}
    for k, part in enumerate(parts):
        for i in part:
            if isinstance(payloads[i], dict) and "id" in payloads[i]:
                assert owner.setdefault(payloads[i]["id"], k) == k  # a repeat stays put
    assert {40, 41} <= set(parts[0])  # no id: the first writer refuses them as usual


def test_partition_of_a_delete_batch_hashes_the_ids_themselves() -> None:
    ids = [f"urn:ngsi-ld:Vehicle:{n}" for n in range(20)]
    assert partition(ids, 2, "delete") == partition([{"id": i} for i in ids], 2, "upsert")


def test_merge_lists_ids_in_the_order_the_batch_names_them() -> None:
    payloads = [vehicle(n, 1) for n in (3, 1, 2, 1)]
    one, two = BatchResult(), BatchResult()
    one.success = ["urn:ngsi-ld:Vehicle:2", "urn:ngsi-ld:Vehicle:3"]
    one.created = ["urn:ngsi-ld:Vehicle:3"]
    two.success = ["urn:ngsi-ld:Vehicle:1", "urn:ngsi-ld:Vehicle:1"]
    two.errors = [{"entityId": "", "error": {}}]
    merged = merge([one, two], payloads, "upsert")
    assert merged.success == [f"urn:ngsi-ld:Vehicle:{n}" for n in (3, 1, 2, 1)]
    assert merged.created == ["urn:ngsi-ld:Vehicle:3"]
    assert merged.errors == [{"entityId": "", "error": {}}]


# --- real processes ----------------------------------------------------------------------------


class Woken:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def pool(database_url: str) -> Iterator[WriterPool]:
    started = WriterPool(
        WriterConfig(database_url, validate_models=False), 2, min_items=2, wake=Woken()
    )
    started.start()
    try:
        yield started
    finally:
        started.stop()


def server_broker(store: Store, hidden: list[str] | None = None) -> Broker:
    """The server process's broker: its notifier knows CTX_URL and a data-space filter that
    hides every entity from subscriptions owned by ``transfer:`` (and records the call)."""

    def hide(row: SubscriptionRow, entity: dict[str, Any]) -> None:
        if hidden is not None:
            hidden.append(entity["id"])

    notifier = Notifier(
        store=store,
        clock=ManualClock(MOMENT),
        client=None,  # type: ignore[arg-type]  # this test never delivers
        terms_for=lambda context: TERMS,
        filters={"transfer:": hide},
    )
    return Broker(store, clock=ManualClock(MOMENT), sink=notifier)


def stored(store: Store, tenant: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with store.transaction() as tx:
        ids = [f"urn:ngsi-ld:Vehicle:{n}" for n in range(60)]
        for eid, doc in tx.twin_entities.get_many(tenant, ids).items():
            out[eid] = doc
        rows = tx.conn.execute(
            sa.select(twin_instances.c.entity_id, sa.func.count())
            .where(twin_instances.c.tenant == tenant)
            .group_by(twin_instances.c.entity_id)
        ).all()
    return {"entities": out, "instances": dict(rows)}


def run_both(store: Store, pool: WriterPool, mode: str, payloads: list[Any]) -> BatchResult:
    """``payloads`` in ``mode`` through the writers (tenant "w") and in this process (tenant
    "s"); the results must agree. Returns the writers' result."""
    broker = server_broker(store)
    split = pool.run(broker, "w", payloads, TERMS, mode, MOMENT)
    here = broker.run_batch("s", payloads, TERMS, mode, MOMENT)
    assert split.success == here.success
    assert split.created == here.created
    assert [(e["entityId"], e["error"]["type"]) for e in split.errors] == [
        (e["entityId"], e["error"]["type"]) for e in here.errors
    ]
    return split


def test_writers_give_what_the_server_process_gives(store: Store, pool: WriterPool) -> None:
    batch: list[Any] = [vehicle(n, n) for n in range(30)]
    batch += [vehicle(4, 99.5), "not an entity", {"id": "no uri", "type": "Vehicle"}]
    first = run_both(store, pool, "upsert", batch)
    assert len(first.created) == 30 and len(first.errors) == 2
    run_both(store, pool, "upsert", [vehicle(n, n + 0.5) for n in range(0, 30, 2)])
    run_both(store, pool, "update", [vehicle(n, 7) for n in (1, 3, 55)])  # 55: not found
    run_both(store, pool, "merge", [vehicle(n, 8) for n in (5, 6)])
    run_both(store, pool, "create", [vehicle(n, 1) for n in (7, 40, 41)])  # 7 exists
    run_both(store, pool, "delete", [f"urn:ngsi-ld:Vehicle:{n}" for n in (8, 9, 56)])

    w, s = stored(store, "w"), stored(store, "s")
    assert w == s  # same documents (same stamps: one moment) and same temporal rows
    assert w["entities"]["urn:ngsi-ld:Vehicle:4"]["attrs"][f"{EX}speed"][0]["value"] == 4.5
    assert "urn:ngsi-ld:Vehicle:8" not in w["entities"]
    status = pool.status()
    assert status.alive == 2 and status.batches == 6 and status.fallbacks == 0
    assert status.parts >= 10 and status.restarts == 0 and status.last_error is None


def notifications(store: Store) -> dict[str, int]:
    n = twin_notifications.c
    with store.transaction() as tx:
        rows = tx.conn.execute(
            sa.select(n.subscription_id, sa.func.count()).group_by(n.subscription_id)
        ).all()
    return {sub: count for sub, count in rows}


def subscribe(store: Store, context: list[str], owner: str | None = None) -> str:
    body = {
        "type": "Subscription",
        "entities": [{"type": "Vehicle"}],
        "notification": {"endpoint": {"uri": "http://receiver.test/notify"}},
    }
    doc = parse_subscription(body, TERMS, MOMENT, context=context)
    row = SubscriptionRow(
        id=doc["id"], tenant="", doc=doc, created_at=MOMENT, modified_at=MOMENT, owner=owner
    )
    with store.transaction() as tx:
        tx.twin_subscriptions.add(row)
    return str(doc["id"])


def test_writers_queue_notifications_they_can_render(store: Store, pool: WriterPool) -> None:
    plain = subscribe(store, [])  # the core context: every process holds it
    broker = server_broker(store)
    payloads = [vehicle(n, n) for n in range(10)]
    result = pool.run(broker, "", payloads, TERMS, "upsert", MOMENT)
    assert len(result.success) == 10
    assert pool.status().fallbacks == 0
    parts = sum(1 for part in partition(payloads, 2, "upsert") if part)
    assert notifications(store) == {plain: parts}  # one per writer's transaction
    assert isinstance(pool.wake, Woken) and pool.wake.count == 1  # the server's loop is woken


def test_a_subscription_whose_filter_the_writers_lack_runs_in_the_server(
    store: Store, pool: WriterPool
) -> None:
    plain = subscribe(store, [])
    owned = subscribe(store, [], owner="transfer:t-1")
    hidden: list[str] = []
    broker = server_broker(store, hidden)
    payloads = [vehicle(n, n) for n in range(10)]
    result = pool.run(broker, "", payloads, TERMS, "upsert", MOMENT)
    assert len(result.success) == 10
    assert pool.status().fallbacks == pool.status().parts  # every part came back
    assert sorted(hidden) == sorted(p["id"] for p in payloads)  # the filter saw every entity
    parts = sum(1 for part in partition(payloads, 2, "upsert") if part)
    assert notifications(store) == {plain: parts}  # and hid them all from the owned one
    assert owned not in notifications(store)


def test_a_context_only_the_server_holds_runs_there(store: Store, pool: WriterPool) -> None:
    sub = subscribe(store, [CTX_URL])
    result = pool.run(
        server_broker(store), "", [vehicle(n, n) for n in range(6)], TERMS, "upsert", MOMENT
    )
    assert len(result.success) == 6
    assert pool.status().fallbacks >= 1
    assert sum(notifications(store).values()) >= 1 and sub in notifications(store)


@pytest.mark.parametrize("empty_database_url", ["sqlite"], indirect=True)
def test_a_writer_that_stops_is_replaced_and_nothing_is_lost(
    store: Store, pool: WriterPool, database_url: str
) -> None:
    """Writers killed while they wait for the database: an upsert is run by the server
    process instead; a create is reported failed (it may have committed); the next batch
    starts the writers again."""
    broker = server_broker(store)

    def killed_during(mode: str, payloads: list[Any]) -> BatchResult:
        lock = store.engine.raw_connection()
        lock.execute("BEGIN IMMEDIATE")  # the writers block on SQLite's write lock
        out: list[BatchResult] = []
        worker = threading.Thread(
            target=lambda: out.append(pool.run(broker, "", payloads, TERMS, mode, MOMENT))
        )
        worker.start()
        time.sleep(0.5)
        for pid in pool.status().pids:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        lock.rollback()
        lock.close()
        worker.join(timeout=60)
        assert out, "the batch never finished"
        return out[0]

    upserted = killed_during("upsert", [vehicle(n, n) for n in range(8)])
    assert len(upserted.success) == 8 and not upserted.errors
    assert len(stored(store, "")["entities"]) == 8

    pool.run(broker, "", [vehicle(n, 2) for n in range(8)], TERMS, "upsert", MOMENT)  # restarts
    assert pool.status().restarts == 2 and pool.status().alive == 2
    created = killed_during("create", [vehicle(n, n) for n in range(20, 26)])
    assert not created.success and len(created.errors) == 6
    assert {e["error"]["type"].rsplit("/", 1)[-1] for e in created.errors} == {"InternalError"}
    assert "may or may not have been applied" in created.errors[0]["error"]["detail"]

    fresh = [vehicle(n, 1) for n in range(30, 38)]
    assert all(partition(fresh, 2, "create"))  # both writers get a part: both start again
    again = pool.run(broker, "", fresh, TERMS, "create", MOMENT)
    assert len(again.success) == 8
    status = pool.status()
    assert status.alive == 2 and status.restarts == 4
    assert status.last_error is not None and "stopped" in status.last_error


def test_a_writer_that_cannot_start_says_why() -> None:
    pool = WriterPool(WriterConfig("nosuchdriver://x"), 1)
    with pytest.raises(RuntimeError, match=r"could not start: .*nosuchdriver"):
        pool.start()
    assert pool.status().alive == 0
