"""WAL checkpoints of a SQLite store in a background thread, off the writers' commits.

In WAL mode a commit appends pages to the ``-wal`` file; a *checkpoint* copies them back into
the database file (and syncs both). By default SQLite runs one inside whichever commit pushes the
WAL past 1,000 pages, so that writer pays for copying every page the others wrote: a twin batch
of 1,000 entities (a few MB) waited about 30 ms of its 35 ms commit on it. Here a daemon thread
with its own connection runs ``PRAGMA wal_checkpoint(PASSIVE)`` a few times a second whenever a
commit happened since its last pass (``PRAGMA data_version``). A passive checkpoint never waits
for, nor blocks, readers or writers, and the sqlite3 module releases the GIL while it runs, so on
a machine with a spare core the copy costs the request path nothing.

The writers' own ``wal_autocheckpoint`` stays on, raised to ``WRITER_AUTOCHECKPOINT`` pages, as
a backstop: if the thread is late or gone, the WAL still cannot grow without bound.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote

log = logging.getLogger(__name__)

#: Pages a writer lets the WAL reach before it checkpoints itself (the backstop; 8 KiB pages:
#: 64 MiB).
WRITER_AUTOCHECKPOINT = 8192
#: The WAL file is truncated back to this size after a checkpoint that emptied it.
JOURNAL_SIZE_LIMIT = 64 * 1_048_576


@dataclass
class CheckpointStats:
    """What the checkpointer did: passes run, frames copied, the last failure (if any)."""

    passes: int = 0
    frames: int = 0
    busy: int = 0
    last_error: str | None = None


class WalCheckpointer:
    """Checkpoints the WAL of the SQLite file at ``path`` every ``interval`` seconds in which
    something was committed. ``start`` once, ``stop`` to end (it joins the thread)."""

    def __init__(self, path: str, *, interval: float = 0.2) -> None:
        if interval <= 0:
            raise ValueError("the checkpoint interval must be positive")
        self.path = path
        self.interval = interval
        self.stats = CheckpointStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the checkpointer was already started")
        self._thread = threading.Thread(
            target=self._run, name=f"wal-checkpoint:{self.path}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to end and wait for it (at most ``timeout`` s)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def signal_stop(self) -> None:
        """Ask the thread to end without waiting (safe from a finalizer)."""
        self._stop.set()

    def checkpoint(self, conn: sqlite3.Connection) -> None:
        """One passive checkpoint over ``conn``, counted in ``stats``."""
        busy, _log_frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.stats.passes += 1
        self.stats.busy += int(busy)
        self.stats.frames += max(int(copied), 0)

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        seen: int | None = None
        try:
            while not self._stop.wait(self.interval):
                try:
                    if conn is None:
                        conn = sqlite3.connect(  # mode=rw: never create a missing file
                            f"file:{quote(self.path)}?mode=rw",
                            uri=True,
                            timeout=0,
                            isolation_level=None,
                        )
                    version = conn.execute("PRAGMA data_version").fetchone()[0]
                    if version == seen:
                        continue  # nothing committed since the last pass
                    seen = version
                    self.checkpoint(conn)
                    self.stats.last_error = None
                except sqlite3.Error as exc:  # a locked or vanished file: try again later
                    if self.stats.last_error != str(exc):
                        log.warning("WAL checkpoint of %s failed: %s", self.path, exc)
                    self.stats.last_error = str(exc)
                    if conn is not None:
                        conn.close()
                        conn = None
                    time.sleep(self.interval)
        finally:
            if conn is not None:
                conn.close()


__all__ = ["JOURNAL_SIZE_LIMIT", "WRITER_AUTOCHECKPOINT", "CheckpointStats", "WalCheckpointer"]
