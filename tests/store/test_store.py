"""The store's record tables, run on SQLite and on PostgreSQL through the ``store`` fixture."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from twinspace.clock import ManualClock
from twinspace.store import AlreadyExists, Conflict, NotFound, Store
from twinspace.store import tables as t

from .factories import (
    KINDS,
    NESTED,
    Kind,
    asset,
    negotiation,
    outbox_item,
    transfer,
)


@pytest.mark.parametrize("kind", KINDS, ids=[k.attr for k in KINDS])
def test_crud(store: Store, clock: ManualClock, kind: Kind) -> None:
    now = clock.now()
    keys = [f"{kind.attr}-{i:02d}" for i in range(7)]
    with store.transaction() as tx:
        rows = kind.rows(tx)
        for key in reversed(keys):
            rows.insert(kind.make(key, now))

    with store.transaction() as tx:
        rows = kind.rows(tx)
        assert rows.get(keys[3]) == kind.make(keys[3], now)
        assert rows.find(keys[3]) == kind.make(keys[3], now)
        assert rows.find("missing") is None
        with pytest.raises(NotFound) as missing:
            rows.get("missing")
        assert missing.value.key == "missing"
        with pytest.raises(AlreadyExists) as duplicate:
            rows.insert(kind.make(keys[0], now))
        assert duplicate.value.key == keys[0]

        assert [r.id for r in rows.list()] == keys  # ordered by key
        assert [r.id for r in rows.list(offset=2, limit=3)] == keys[2:5]
        assert [r.id for r in rows.list(offset=5)] == keys[5:]
        assert [r.id for r in rows.list(limit=2)] == keys[:2]
        assert rows.list(offset=10, limit=5) == []
        assert rows.count() == len(keys)
        key_column = rows.table.c.id
        assert rows.count(key_column.in_(keys[:3])) == 3
        assert [r.id for r in rows.list(key_column > keys[4])] == keys[5:]
        assert rows.find_where(key_column == keys[6]) == kind.make(keys[6], now)

    changed = dataclasses.replace(kind.make(keys[1], now), **{kind.field: kind.value})
    with store.transaction() as tx:
        rows = kind.rows(tx)
        rows.replace(changed)
        with pytest.raises(NotFound):
            rows.replace(kind.make("missing", now))
        rows.delete(keys[2])
        with pytest.raises(NotFound):
            rows.delete(keys[2])

    with store.transaction() as tx:
        rows = kind.rows(tx)
        assert rows.get(keys[1]) == changed
        assert getattr(rows.get(keys[1]), kind.field) == kind.value
        assert rows.get(keys[0]) == kind.make(keys[0], now)  # the others are untouched
        assert rows.find(keys[2]) is None
        assert rows.count() == len(keys) - 1


def test_json_columns_round_trip_nested_data(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    a = asset("a-1", now)
    a.properties = NESTED
    a.private_properties = {"list": [NESTED, [NESTED]], "empty": {}}
    a.data_address = {"type": "HttpData", "headers": {"X-Key": "v"}, "quote": "\"'\\"}
    tr = transfer("t-1", now)
    tr.data_destination = {"endpoint": "https://x", "props": [{"name": "n", "value": NESTED}]}
    tr.data_address = {}
    n = negotiation("n-1", now)
    n.offer = None  # a nullable JSON column
    with store.transaction() as tx:
        tx.assets.insert(a)
        tx.transfers.insert(tr)
        tx.negotiations.insert(n)
        tx.outbox.enqueue(outbox_item("o-1", now))
    with store.transaction() as tx:
        got = tx.assets.get("a-1")
        assert got.properties == NESTED
        assert got.private_properties == {"list": [NESTED, [NESTED]], "empty": {}}
        assert got.data_address == a.data_address
        assert tx.transfers.get("t-1").data_destination == tr.data_destination
        assert tx.transfers.get("t-1").data_address == {}
        assert tx.negotiations.get("n-1").offer is None
        assert tx.outbox.get("o-1").payload["nested"] == NESTED
    assert isinstance(got.properties["numbers"][1], float)
    assert got.properties["numbers"][3] == 10**12


def test_datetimes_come_back_aware_utc_and_equal(store: Store) -> None:
    cet = timezone(timedelta(hours=2))
    moment = datetime(2026, 3, 29, 3, 4, 5, 123456, tzinfo=cet)
    a = asset("a-1", moment)
    n = negotiation("n-1", moment)
    n.updated_at = moment + timedelta(microseconds=1)
    with store.transaction() as tx:
        tx.assets.insert(a)
        tx.negotiations.insert(n)
    with store.transaction() as tx:
        created = tx.assets.get("a-1").created_at
        got = tx.negotiations.get("n-1")
    assert created == moment
    assert created.tzinfo is UTC
    assert created.hour == 1 and created.microsecond == 123456
    assert got.created_at == moment and got.created_at.tzinfo is UTC
    assert got.updated_at - got.created_at == timedelta(microseconds=1)


def test_datetimes_compare_across_zones_in_queries(store: Store) -> None:
    base = datetime(2026, 1, 1, 12, tzinfo=UTC)
    with store.transaction() as tx:
        for i in range(3):
            tx.assets.insert(asset(f"a-{i}", base + timedelta(hours=i)))
    later = (base + timedelta(minutes=30)).astimezone(timezone(timedelta(hours=-5)))
    with store.transaction() as tx:
        newer = tx.assets.list(t.assets.c.created_at > later)
    assert [a.id for a in newer] == ["a-1", "a-2"]


def test_naive_datetime_is_rejected_and_nothing_is_written(store: Store) -> None:
    with pytest.raises(sa.exc.StatementError) as info, store.transaction() as tx:
        tx.policies.insert(dataclasses.replace(KINDS[1].make("p-0", datetime.now(UTC))))
        tx.assets.insert(asset("a-1", datetime(2026, 1, 1)))
    assert isinstance(info.value.orig, ValueError)
    assert "naive" in str(info.value.orig)
    with store.transaction() as tx:
        assert tx.assets.count() == 0
        assert tx.policies.count() == 0


@pytest.mark.parametrize("attr", ["negotiations", "transfers"])
def test_process_rows_by_pid(store: Store, clock: ManualClock, attr: str) -> None:
    make = negotiation if attr == "negotiations" else transfer
    now = clock.now()
    provider_side = make("x-1", now)
    provider_side.role = "PROVIDER"
    consumer_side = make("x-2", now)  # the same pids, seen from the other role
    consumer_side.role = "CONSUMER"
    consumer_side.provider_pid = provider_side.provider_pid
    consumer_side.consumer_pid = provider_side.consumer_pid
    other = make("x-3", now)
    other.role = "PROVIDER"
    with store.transaction() as tx:
        rows = getattr(tx, attr)
        for record in (provider_side, consumer_side, other):
            rows.insert(record)
    p, c = provider_side.provider_pid, provider_side.consumer_pid
    with store.transaction() as tx:
        rows = getattr(tx, attr)
        assert rows.by_pid("PROVIDER", provider_pid=p) == provider_side
        assert rows.by_pid("PROVIDER", consumer_pid=c) == provider_side
        assert rows.by_pid("PROVIDER", provider_pid=p, consumer_pid=c) == provider_side
        assert rows.by_pid("CONSUMER", consumer_pid=c) == consumer_side
        assert rows.by_pid("CONSUMER", provider_pid=p) == consumer_side
        assert rows.by_pid("PROVIDER", provider_pid=other.provider_pid) == other
        assert rows.by_pid("PROVIDER", provider_pid=p, consumer_pid=other.consumer_pid) is None
        assert rows.by_pid("PROVIDER", provider_pid="urn:uuid:none") is None
        assert rows.by_pid("CONSUMER", consumer_pid=other.consumer_pid) is None


@pytest.mark.parametrize("attr", ["negotiations", "transfers"])
def test_update_versioned(store: Store, clock: ManualClock, attr: str) -> None:
    make = negotiation if attr == "negotiations" else transfer
    with store.transaction() as tx:
        getattr(tx, attr).insert(make("x-1", clock.now()))
    with store.transaction() as tx:
        mine = getattr(tx, attr).get("x-1")
    with store.transaction() as tx:
        theirs = getattr(tx, attr).get("x-1")
    assert mine.version == theirs.version == 0

    clock.advance(5)
    mine.state, mine.updated_at = "AGREED", clock.now()
    with store.transaction() as tx:
        getattr(tx, attr).update_versioned(mine)
    assert mine.version == 1

    theirs.state = "TERMINATED"
    with pytest.raises(Conflict), store.transaction() as tx:
        getattr(tx, attr).update_versioned(theirs)
    assert theirs.version == 0  # not bumped on conflict

    with store.transaction() as tx:
        saved = getattr(tx, attr).get("x-1")
    assert saved == mine
    assert saved.state == "AGREED" and saved.version == 1

    saved.error_detail = "second change"
    with store.transaction() as tx:
        getattr(tx, attr).update_versioned(saved)
        getattr(tx, attr).update_versioned(saved)  # the bumped copy is current again
    with store.transaction() as tx:
        assert getattr(tx, attr).get("x-1").version == 3

    gone = make("x-missing", clock.now())
    with pytest.raises(Conflict), store.transaction() as tx:
        getattr(tx, attr).update_versioned(gone)


class Boom(Exception):
    pass


def test_a_failed_transaction_leaves_nothing_written(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    with store.transaction() as tx:
        tx.negotiations.insert(negotiation("n-1", now))
    with store.transaction() as tx:
        n = tx.negotiations.get("n-1")

    with pytest.raises(Boom), store.transaction() as tx:
        tx.assets.insert(asset("a-1", now))
        n.state = "AGREED"
        tx.negotiations.update_versioned(n)
        tx.outbox.enqueue(outbox_item("o-1", now, process_id="n-1"))
        tx.inbox.remember("k-1", 200, {"ok": True}, now)
        tx.negotiations.delete("n-1")
        raise Boom

    with store.transaction() as tx:
        assert tx.assets.count() == 0
        assert tx.outbox.pending_for("n-1") == []
        assert tx.inbox.seen("k-1") is None
        kept = tx.negotiations.get("n-1")
    assert kept.state == "REQUESTED" and kept.version == 0


def test_a_store_error_rolls_back_the_whole_transaction(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    with store.transaction() as tx:
        tx.assets.insert(asset("a-1", now))
    with pytest.raises(AlreadyExists), store.transaction() as tx:
        tx.assets.insert(asset("a-2", now))
        tx.assets.insert(asset("a-1", now))
    with store.transaction() as tx:
        assert [a.id for a in tx.assets.list()] == ["a-1"]


def test_committed_writes_are_seen_by_another_store(
    store: Store, database_url: str, clock: ManualClock
) -> None:
    other = Store.open(database_url)
    try:
        with store.transaction() as tx:
            tx.assets.insert(asset("a-1", clock.now()))
        with other.transaction() as tx:
            assert tx.assets.get("a-1") == asset("a-1", clock.now())
    finally:
        other.close()
