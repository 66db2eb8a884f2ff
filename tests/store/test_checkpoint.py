"""The background WAL checkpointer of SQLite stores (``twinspace.store.checkpoint``)."""

from __future__ import annotations

import gc
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from twinspace.store import Store
from twinspace.store.checkpoint import WRITER_AUTOCHECKPOINT, WalCheckpointer
from twinspace.store.db import create_engine, sqlite_path


def eventually(condition: Callable[[], bool], what: str, within: float = 15.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {within} s")
        time.sleep(0.02)


def write_rows(store: Store, count: int, size: int = 4000) -> None:
    with store.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, t TEXT)")
        conn.exec_driver_sql(
            "INSERT INTO filler (t) VALUES (?)", [("x" * size,) for _ in range(count)]
        )


def wal_frames(path: Path) -> int:
    """Frames in the WAL that are not yet in the database file (a passive checkpoint's view)."""
    with sqlite3.connect(path) as conn:
        _busy, log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(log) - int(done)


def test_a_sqlite_store_checkpoints_in_the_background(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        checkpointer = store.checkpointer
        assert checkpointer is not None and checkpointer.running
        write_rows(store, 200)
        eventually(lambda: checkpointer.stats.frames > 0, "a checkpoint copying frames")
        assert checkpointer.stats.last_error is None
        with sqlite3.connect(tmp_path / "a.db") as conn:  # the data reads back whole
            assert conn.execute("SELECT count(*) FROM filler").fetchone() == (200,)
    finally:
        store.close()
    assert not checkpointer.running


def test_the_writers_only_checkpoint_as_a_backstop(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        with store.engine.connect() as conn:
            value = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        assert value == WRITER_AUTOCHECKPOINT
    finally:
        store.close()
    plain = create_engine(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        with plain.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    finally:
        plain.dispose()


def test_without_the_thread_the_writers_still_checkpoint(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'd.db'}", checkpoints=False)
    try:
        assert store.checkpointer is None
        write_rows(store, 400)  # ~1.6 MB: past SQLite's own 1,000-page threshold
        assert wal_frames(tmp_path / "d.db") == 0
    finally:
        store.close()


def test_new_files_use_8_kib_pages(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'e.db'}")
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA page_size").scalar() == 8192
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        store.close()


def test_a_dropped_store_ends_its_thread(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'f.db'}")
    checkpointer = store.checkpointer
    assert checkpointer is not None
    store.engine.dispose()
    del store
    gc.collect()
    eventually(lambda: not checkpointer.running, "the thread ending")


def test_a_missing_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    checkpointer = WalCheckpointer(str(path), interval=0.01)
    checkpointer.start()
    try:
        eventually(lambda: checkpointer.stats.last_error is not None, "the failure recorded")
        assert not path.exists()
    finally:
        checkpointer.stop()
    assert not checkpointer.running


def test_a_checkpointer_starts_once_and_needs_a_positive_interval(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        WalCheckpointer(str(tmp_path / "x.db"), interval=0)
    checkpointer = WalCheckpointer(str(tmp_path / "x.db"), interval=0.05)
    checkpointer.start()
    try:
        with pytest.raises(RuntimeError, match="already"):
            checkpointer.start()
    finally:
        checkpointer.stop()


def test_other_backends_and_memory_get_none() -> None:
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("postgresql+psycopg://u@h/db") is None
    assert sqlite_path("sqlite:////var/x.db?timeout=3") == "/var/x.db"
    store = Store.open("sqlite:///:memory:")
    try:
        assert store.checkpointer is None
    finally:
        store.close()
