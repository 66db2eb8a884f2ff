"""Several connector replicas over one database must not double-send: claims are exclusive."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta

import sqlalchemy as sa

from twinspace.clock import ManualClock
from twinspace.store import Store
from twinspace.store import tables as t

from .factories import outbox_item

ITEMS = 200
STORES = 2
THREADS_PER_STORE = 3
BATCH = 25


def test_two_stores_never_claim_an_item_twice(database_url: str, clock: ManualClock) -> None:
    now = clock.now()
    until = now + timedelta(hours=1)
    stores = [Store.open(database_url) for _ in range(STORES)]
    try:
        with stores[0].transaction() as tx:
            for i in range(ITEMS):
                tx.outbox.enqueue(outbox_item(f"o-{i:03d}", now, due_in=-(i % 7)))

        claims: list[tuple[str, str]] = []
        errors: list[BaseException] = []
        lock = threading.Lock()
        start = threading.Barrier(STORES * THREADS_PER_STORE)

        def worker(store: Store, owner: str, seed: int) -> None:
            shuffle = random.Random(seed).shuffle
            try:
                start.wait()
                while True:
                    # As the outbox manager does: find due ids, then claim each in its own
                    # transaction; every worker races for the same rows.
                    with store.transaction() as tx:
                        ids = tx.outbox.due_ids(now, BATCH)
                    if not ids:
                        return
                    shuffle(ids)
                    for item_id in ids:
                        with store.transaction() as tx:
                            item = tx.outbox.claim(item_id, owner, now, until)
                        if item is not None:
                            assert item.lease_owner == owner and item.attempts == 1
                            with lock:
                                claims.append((item_id, owner))
            except BaseException as exc:
                with lock:
                    errors.append(exc)

        threads = [
            threading.Thread(
                target=worker,
                args=(store, f"store{s}-thread{n}", s * THREADS_PER_STORE + n),
                daemon=True,
            )
            for s, store in enumerate(stores)
            for n in range(THREADS_PER_STORE)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads), "a worker hung"
        assert errors == []

        per_item = Counter(item_id for item_id, _ in claims)
        assert [k for k, n in per_item.items() if n > 1] == []  # never claimed twice
        assert len(claims) == ITEMS  # and every item claimed once

        with stores[1].engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.outbox.c.id, t.outbox.c.attempts, t.outbox.c.lease_owner)
            ).all()
        assert len(rows) == ITEMS
        assert all(attempts == 1 for _, attempts, _ in rows)
        assert {item_id: owner for item_id, _, owner in rows} == dict(claims)
    finally:
        for store in stores:
            store.close()
