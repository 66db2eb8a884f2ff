"""Writer processes: large batch operations split by entity id over several processes.

One Python process writes one batch at a time (parsing, the model check and the row encoding all
hold the GIL), so on a machine with several cores a participant's twin can hand its batches to
``TWINSPACE_TWIN_WRITERS`` writer processes. Each is a whole broker of its own over the same
database (its own store and connections, no background loops). A batch of at least
``min_items`` entities is split by a hash of the entity id, so every entity (and every repeat of
it in the batch) goes to one process, in order; the parts run at the same time, each in its own
transaction, and their results are merged into one BatchOperationResult in the batch's order.
NGSI-LD batch results are per entity, so a part that fails does not undo another.

A writer completes only what it does exactly as the server process would. It applies the
data-space policy filter of subscriptions owned by transfers (``TwinSharing.filter``, with the
participant's pseudonymization key: ``WriterPool.share``); a part whose filter fails there, or
whose subscriptions use an @context only the server process holds, is rolled back and run by the
server process instead (``fallbacks`` in the status). A writer that stops (crash, kill) is
started again; its part is run by the server process when the operation can be repeated safely
(upsert, update, merge), and reported as failed with a clear reason otherwise (create, delete:
the writer may have committed before it stopped).
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import signal
import threading
import zlib
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field, replace
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from twinspace.twin.broker import BatchResult, Broker, ChangeSink, _entity_id
from twinspace.twin.context import TermMap
from twinspace.twin.errors import NgsiError

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Modes a writer's part may be repeated in by the server process after the writer stopped.
_REPEATABLE = frozenset({"upsert", "upsert-update", "update", "update-keep", "merge"})
_START_TIMEOUT = 60.0  # seconds for a writer to import, open the store and say it is ready


@dataclass(frozen=True)
class WriterConfig:
    """What a writer process needs to build its broker (picklable)."""

    database_url: str
    validate_models: bool = True
    context_dir: Path | None = None
    gc_threshold: int = 0
    #: The participant's data folder when its twin is shared through the data space: writers
    #: then apply the same policy filters (``TwinSharing.filter``, its pseudonymization key).
    sharing_dir: Path | None = None


class Fallback(Exception):
    """This part must run in the server process (see the module docstring)."""


@dataclass
class _Writer:
    process: Any  # multiprocessing.Process (spawn context)
    conn: Connection


@dataclass
class WriterStatus:
    writers: int
    alive: int
    min_items: int
    batches: int = 0
    parts: int = 0
    fallbacks: int = 0
    restarts: int = 0
    last_error: str | None = None
    pids: list[int] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        return {
            "writers": self.writers,
            "alive": self.alive,
            "minItems": self.min_items,
            "batches": self.batches,
            "parts": self.parts,
            "fallbacks": self.fallbacks,
            "restarts": self.restarts,
            "lastError": self.last_error,
            "pids": self.pids,
        }


def partition(payloads: list[Any], count: int, mode: str) -> list[list[int]]:
    """The indices of ``payloads`` each of ``count`` writers takes (some may be empty): by a
    hash of the entity id; items without one go to the first, where they are refused as usual."""
    parts: list[list[int]] = [[] for _ in range(count)]
    for index, payload in enumerate(payloads):
        eid = payload if mode == "delete" else _entity_id(payload)
        k = zlib.crc32(eid.encode("utf-8", "surrogatepass")) % count if isinstance(eid, str) else 0
        parts[k].append(index)
    return parts


def merge(results: list[BatchResult], payloads: list[Any], mode: str) -> BatchResult:
    """One result from the parts' results, in the batch's order: the n-th mention of an id in
    a list takes the place of the n-th item naming it (errors of items without an id, listed
    with entityId "", take the places of those items)."""
    places: dict[str, list[int]] = {}
    for index, payload in enumerate(payloads):
        eid = payload if mode == "delete" else _entity_id(payload)
        places.setdefault(eid if isinstance(eid, str) else "", []).append(index)

    def ordered(entries: list[T], key: Callable[[T], str]) -> list[T]:
        seen: dict[str, int] = {}
        placed = []
        for number, entry in enumerate(entries):
            eid = key(entry)
            where = places.get(eid, [])
            nth = seen[eid] = seen.get(eid, -1) + 1
            place = where[min(nth, len(where) - 1)] if where else len(payloads)
            placed.append((place, number, entry))
        return [entry for _place, _number, entry in sorted(placed, key=lambda p: p[:2])]

    out = BatchResult()
    for result in results:
        out.success.extend(result.success)
        out.created.extend(result.created)
        out.errors.extend(result.errors)
    out.success = ordered(out.success, str)
    out.created = ordered(out.created, str)
    out.errors = ordered(out.errors, lambda error: str(error["entityId"]))
    return out


class WriterPool:
    """``count`` writer processes taking batches of at least ``min_items`` entities."""

    def __init__(
        self,
        config: WriterConfig,
        count: int,
        *,
        min_items: int = 200,
        wake: Callable[[], None] | None = None,
    ) -> None:
        """``wake``: called when writers queued notifications (the server's delivery loop)."""
        if count < 1:
            raise ValueError("a writer pool needs at least one writer")
        self.config = config
        self.count = count
        self.min_items = max(min_items, count)
        self.wake = wake
        self._writers: list[_Writer | None] = [None] * count
        self._locks = [threading.Lock() for _ in range(count)]  # one batch part at a time each
        self._stats = WriterStatus(writers=count, alive=0, min_items=self.min_items)
        self._context = multiprocessing.get_context("spawn")

    # --- life -------------------------------------------------------------------------------

    def share(self, data_dir: Path) -> None:
        """Have the writers filter data-space subscriptions' notifications as the server does
        (``TwinSharing.install`` calls this before the writers start)."""
        self.config = replace(self.config, sharing_dir=data_dir)

    def start(self) -> None:
        """Start every writer and wait until each is ready; RuntimeError if one cannot start
        (the others are stopped)."""
        launched = [self._launch(k) for k in range(self.count)]
        try:
            for k, (process, conn) in enumerate(launched):
                self._writers[k] = self._ready(k, process, conn)
        except Exception:
            for process, conn in launched:
                if process.is_alive():
                    process.kill()
                conn.close()
            self._writers = [None] * self.count
            raise

    def stop(self) -> None:
        """Ask every writer to finish (waiting for the batch it is on), then reap them."""
        for k, lock in enumerate(self._locks):
            with lock:
                writer = self._writers[k]
                if writer is None:
                    continue
                with suppress(OSError):
                    writer.conn.send_bytes(pickle.dumps(None))
                writer.process.join(timeout=10)
                if writer.process.is_alive():
                    writer.process.kill()
                    writer.process.join(timeout=5)
                writer.conn.close()
                self._writers[k] = None

    def status(self) -> WriterStatus:
        alive = [w.process.pid for w in self._writers if w is not None and w.process.is_alive()]
        self._stats.alive = len(alive)
        self._stats.pids = alive
        return self._stats

    def _launch(self, k: int) -> tuple[Any, Connection]:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=serve, args=(theirs, self.config), name=f"twinspace-writer-{k}", daemon=True
        )
        process.start()
        theirs.close()
        return process, ours

    def _ready(self, k: int, process: Any, conn: Connection) -> _Writer:
        """The writer once it said it is ready; RuntimeError with its reason if it is not."""
        try:
            if not conn.poll(_START_TIMEOUT):
                raise RuntimeError(f"twin writer {k} did not start in {_START_TIMEOUT:.0f} s")
            kind, detail = conn.recv()
        except (EOFError, OSError) as exc:
            kind, detail = "failed", f"it exited ({exc.__class__.__name__})"
        if kind != "ready":
            process.join(timeout=5)
            raise RuntimeError(f"twin writer {k} could not start: {detail}")
        return _Writer(process, conn)

    def _spawn(self, k: int) -> _Writer:
        process, conn = self._launch(k)
        try:
            return self._ready(k, process, conn)
        except RuntimeError:
            if process.is_alive():
                process.kill()
            conn.close()
            raise

    # --- batches ----------------------------------------------------------------------------

    def takes(self, items: int) -> bool:
        return items >= self.min_items

    def run(
        self,
        broker: Broker,
        tenant: str,
        payloads: list[Any],
        terms: TermMap,
        mode: str,
        moment: datetime,
    ) -> BatchResult:
        """The batch split over the writers (see the module docstring), stamped ``moment``."""
        parts = {k: part for k, part in enumerate(partition(payloads, self.count, mode)) if part}
        items = {k: [payloads[i] for i in part] for k, part in parts.items()}
        answers = self._exchange(
            {k: (tenant, part, terms, mode, moment) for k, part in items.items()}
        )
        self._stats.batches += 1
        self._stats.parts += len(parts)
        results: list[BatchResult] = []
        queued = 0
        for k, part in items.items():
            kind, detail = answers[k]
            if kind == "ok":
                result, count = detail
                results.append(result)
                queued += count
                continue
            if kind == "fallback":
                self._stats.fallbacks += 1
            else:
                self._stats.last_error = str(detail)
                log.error("twin writer part failed (%s): %s", kind, detail)
            if kind == "lost" and mode not in _REPEATABLE:
                results.append(_unknown(part, mode, str(detail)))
            else:
                results.append(broker.run_batch(tenant, part, terms, mode, moment))
        if queued and self.wake is not None:
            self.wake()
        return merge(results, payloads, mode)

    def _exchange(self, jobs: dict[int, tuple[Any, ...]]) -> dict[int, tuple[str, Any]]:
        """Send job k to writer k and collect the answers: ("ok", (result, queued)),
        ("fallback", why), ("error", why), or ("lost", why) when the writer is gone."""
        answers: dict[int, tuple[str, Any]] = {}
        with ExitStack() as held:
            writers: dict[int, _Writer] = {}
            for k in sorted(jobs):  # always in this order: no two batches wait on each other
                held.enter_context(self._locks[k])
                writer = self._writers[k]
                if writer is None or not writer.process.is_alive():
                    writer = self._restart(k, writer)
                if writer is None:
                    answers[k] = ("lost", self._stats.last_error or "the writer cannot start")
                else:
                    writers[k] = writer
            for k, writer in writers.items():
                try:
                    writer.conn.send_bytes(pickle.dumps(jobs[k], pickle.HIGHEST_PROTOCOL))
                except OSError as exc:
                    answers[k] = ("lost", f"the writer stopped ({exc.__class__.__name__})")
            for k, writer in writers.items():
                if k in answers:
                    continue
                try:
                    answers[k] = writer.conn.recv()
                except (EOFError, OSError) as exc:
                    answers[k] = ("lost", f"the writer stopped ({exc.__class__.__name__})")
        return answers

    def _restart(self, k: int, old: _Writer | None) -> _Writer | None:
        """Writer ``k`` started again (the caller holds its lock); None if it cannot start."""
        if old is not None:
            old.process.join(timeout=1)
            old.conn.close()
            log.warning(
                "twin writer %d stopped (exit code %s); starting it again", k, old.process.exitcode
            )
        self._writers[k] = None
        try:
            self._writers[k] = self._spawn(k)
        except RuntimeError as exc:
            self._stats.last_error = str(exc)
            log.error("%s", exc)
            return None
        self._stats.restarts += 1
        return self._writers[k]


def _unknown(part: list[Any], mode: str, why: str) -> BatchResult:
    result = BatchResult()
    for payload in part:
        eid = payload if mode == "delete" else _entity_id(payload)
        result.fail(
            eid if isinstance(eid, str) else None,
            NgsiError(
                "InternalError",
                f"the writer process handling this entity stopped ({why}); it may or may not "
                "have been applied: check the entity, then send it again",
            ),
        )
    return result


# --- the writer process ------------------------------------------------------------------------


def serve(conn: Connection, config: WriterConfig) -> None:
    """A writer process's main loop: one job at a time until None or the pipe closes. Ctrl-C
    reaches the whole process group: the writer leaves stopping to the server process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        broker, counter = _writer_broker(config)
    except Exception as exc:  # reported to the server process, which refuses to start
        conn.send(("failed", f"{exc.__class__.__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            raw = conn.recv_bytes()
        except (EOFError, OSError):
            break
        job = pickle.loads(raw)
        if job is None:
            break
        tenant, payloads, terms, mode, moment = job
        counter.queued = 0
        try:
            result = broker.run_batch(tenant, payloads, terms, mode, moment)
            answer: tuple[str, Any] = ("ok", (result, counter.queued))
        except Fallback as exc:
            answer = ("fallback", str(exc))
        except Exception as exc:  # the server process runs the part itself and reports
            log.exception("twin writer: %s batch failed", mode)
            answer = ("error", f"{exc.__class__.__name__}: {exc}")
        try:
            conn.send(answer)
        except OSError:
            break
    broker.store.close()


class _Counter:
    queued = 0


def _writer_broker(config: WriterConfig) -> tuple[Broker, _Counter]:
    import httpx

    from twinspace.clock import SystemClock
    from twinspace.runtime import tune_gc
    from twinspace.store import Store, create_engine
    from twinspace.store.db import sqlite_path
    from twinspace.twin.dataspace import OWNER_PREFIX, TwinSharing
    from twinspace.twin.notifier import Filter, Notifier
    from twinspace.twin.service import Twin

    url = config.database_url
    # the server process checkpoints a SQLite file's WAL; writers keep the large backstop
    store = Store(create_engine(url, background_checkpoints=sqlite_path(url) is not None))
    clock = SystemClock()
    client = httpx.AsyncClient()  # never used: a writer fetches nothing
    twin = Twin(
        store,
        client,
        clock=clock,
        context_dir=config.context_dir,
        validate_models=config.validate_models,
    )
    counter = _Counter()

    def terms_for(context: list[Any]) -> TermMap:
        try:
            return twin.contexts.cached_term_map(context)
        except NgsiError as exc:
            raise Fallback(f"a subscription's @context is held by the server only: {exc}") from exc

    class WriterNotifier(Notifier):
        def _filter_for(self, owner: str | None) -> Filter | None:
            hook = super()._filter_for(owner)
            if owner and hook is None:
                raise Fallback(f"the subscription of {owner} is filtered by the server process")
            return hook

        @staticmethod
        def _shaped(hook: Filter, row: Any, entity: Any) -> Any:
            try:
                return hook(row, entity)
            except Exception as exc:  # the server hides it, or knows better: let it decide
                raise Fallback(f"the filter of subscription {row.id} failed here: {exc}") from exc

        def enqueue(self, *args: Any, **kwargs: Any) -> int:
            queued = super().enqueue(*args, **kwargs)
            counter.queued += queued
            return queued

    filters: dict[str, Filter] = {}
    if config.sharing_dir is not None:
        filters[OWNER_PREFIX] = TwinSharing(twin, config.sharing_dir).filter
    sink: ChangeSink = WriterNotifier(
        store=store, clock=clock, client=client, terms_for=terms_for, filters=filters
    )
    twin.broker.sink = sink
    if twin.broker.models is not None:
        twin.broker.models.terms  # noqa: B018 - the model context's term map, built now
    tune_gc(config.gc_threshold)
    return twin.broker, counter
