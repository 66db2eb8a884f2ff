"""Transparency-log repositories on every backend: leaves, checkpoints, submissions."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from twinspace.clock import ManualClock
from twinspace.store import (
    LOG_FAILED,
    LOG_LOGGED,
    LogCheckpoint,
    LogLeaf,
    LogSubmission,
    Store,
)


def _leaf(i: int, clock: ManualClock, subject: str = "a-1") -> LogLeaf:
    return LogLeaf(
        idx=i, leaf_hash=f"{i:064x}", entry=f"jws-{i}", submitter="did:web:x", kind="agreement",
        subject=subject, received_at=clock.now(),
    )  # fmt: skip


def test_leaves_are_appended_in_order_and_never_twice(store: Store, clock: ManualClock) -> None:
    with store.transaction() as tx:
        tx.log_leaves.add_many([_leaf(0, clock), _leaf(1, clock, "t-1"), _leaf(2, clock)])
    with store.transaction() as tx:
        assert tx.log_leaves.size() == 3
        assert tx.log_leaves.hashes(1) == [f"{1:064x}", f"{2:064x}"]
        assert [leaf.idx for leaf in tx.log_leaves.about("a-1")] == [0, 2]
        assert [leaf.entry for leaf in tx.log_leaves.range(0, 2)] == ["jws-0", "jws-1"]
    with pytest.raises(sa.exc.IntegrityError), store.transaction() as tx:
        tx.log_leaves.add_many([_leaf(2, clock)])


def test_the_latest_checkpoint(store: Store, clock: ManualClock) -> None:
    with store.transaction() as tx:
        assert tx.log_checkpoints.latest() is None
        for size in (1, 5, 3):
            tx.log_checkpoints.insert(LogCheckpoint(size, "ab" * 32, {"size": size}, clock.now()))
        latest = tx.log_checkpoints.latest()
    assert latest is not None and latest.size == 5


def test_submissions_are_retried_until_logged(store: Store, clock: ManualClock) -> None:
    sub = LogSubmission(
        id="s-1", kind="agreement", subject="a-1", entry="jws", next_attempt_at=clock.now(),
        created_at=clock.now(),
    )  # fmt: skip
    with store.transaction() as tx:
        tx.log_submissions.insert(sub)
        assert [s.id for s in tx.log_submissions.due(clock.now())] == ["s-1"]
        tx.log_submissions.retry(
            "s-1", "log down", clock.now() + timedelta(seconds=5), give_up=False
        )
        assert tx.log_submissions.due(clock.now()) == []
    clock.advance(6)
    with store.transaction() as tx:
        assert [s.attempts for s in tx.log_submissions.due(clock.now())] == [1]
        tx.log_submissions.logged("s-1", "receipt-jws", 7, clock.now())
        [done] = tx.log_submissions.about("a-1")
        assert (done.state, done.leaf_index, done.receipt) == (LOG_LOGGED, 7, "receipt-jws")
        tx.log_submissions.retry("s-1", "x", clock.now(), give_up=True)
        assert tx.log_submissions.get("s-1").state == LOG_FAILED
