"""NGSI-LD twin broker: batch upserts, entity reads, q + geo queries and notification latency of a
real participant process, each next to a baseline measured in the same run.

One participant (``tests/e2e/serve_participant.py``: uvicorn + ``create_app``, default settings,
Smart Data Model validation on) per backend: SQLite (a file) and PostgreSQL (a private schema,
created and dropped here, at ``TWINSPACE_TEST_POSTGRES_URL`` or the test default). Realistic
``AirQualityObserved`` entities (normalized form, 8 attributes: NO2, PM10, PM2_5, O3, CO with
``unitCode`` and ``observedAt``, ``dateObserved``, a GeoJSON ``location``, a ``refDevice``
relationship) with the Environment Smart Data Models context in a ``Link`` header.

1. ``POST /ngsi-ld/v1/entityOperations/upsert``, ``--batches`` batches of ``--batch`` fresh
   entities (creates), then the same entities again with new values (updates, the default
   ``replace`` mode); next to the raw insert rate of the same database: the stored entity
   documents (same JSON, same size) ``executemany``'d into a scratch table, one transaction per
   batch of the same size. Then the same again with other entities and ``--inflight`` (2)
   batches in flight, as several feeders would send them.
2. ``GET /ngsi-ld/v1/entities/{id}`` latency, one at a time and ``--concurrency`` in flight, next
   to ``GET /.well-known/dspace-version`` (the cheapest route of the same process), interleaved.
3. The twin is filled to ``--entities`` (the rest written straight through the store from this
   process, without temporal instances, to save time; PostgreSQL is then ANALYZEd, as autovacuum
   would soon do), then ``q`` + ``near`` and ``q`` + ``within`` queries, next to a type-only
   query with the same limit and the same number of results, and to a raw SQL select of the rows
   in the geo query's bounding box.
4. A subscription whose endpoint is an HTTP receiver in this process: time from sending a
   one-entity upsert to the notification arriving, next to a plain POST round trip to the same
   receiver.

    python bench/twin.py                 # SQLite and PostgreSQL (when reachable)
    python bench/twin.py --sqlite        # one backend only (or --postgres)
    python bench/twin.py --quick         # smoke run: tiny counts
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for entry in (ROOT, ROOT / "src"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402
from tests.e2e.procs import (  # noqa: E402
    API_KEY,
    DEFAULT_POSTGRES_URL,
    Cluster,
    Participant,
    postgres_schemas,
)

from twinspace.store import Store, create_engine  # noqa: E402
from twinspace.twin import entity as ent  # noqa: E402
from twinspace.twin.context import TermMap, bundled_context  # noqa: E402

API = "/ngsi-ld/v1"
KEY = {"X-Api-Key": API_KEY}  # the twin is the participant's own: its management key
SDM = "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/context.jsonld"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
LINK = f'<{SDM}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
JSON_HEADERS = {"Content-Type": "application/json", "Link": LINK}
CENTER = (-3.7038, 40.4168)  # Madrid
TARGET = 5_000  # entity upserts/s
NOTIFY_ID = "urn:ngsi-ld:AirQualityObserved:bench-notify"


@dataclass(frozen=True)
class Sizes:
    batch: int
    batches: int
    entities: int
    samples: int
    queries: int
    notifications: int
    inflight: int = 2  # batches in flight in the second upsert run (1: no second run)

    @property
    def upserted(self) -> int:
        """Entities the upsert runs create: ``batches`` x ``batch`` per run."""
        runs = 2 if self.inflight > 1 else 1
        return runs * self.batch * self.batches


QUICK = Sizes(batch=200, batches=3, entities=2_000, samples=60, queries=3, notifications=10)
FULL = Sizes(batch=1_000, batches=20, entities=100_000, samples=400, queries=10, notifications=60)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# --- entities -------------------------------------------------------------------------------------


def spread(total: int) -> tuple[float, float]:
    """Half-widths (lon, lat) of the box the entities are spread over: 0.25 x 0.2 degrees around
    Madrid for 100,000 (about 42 x 44 km), smaller for fewer, so the density stays the same."""
    scale = (total / 100_000) ** 0.5
    return 0.25 * scale, 0.2 * scale


def air_quality(i: int, total: int, stamp: str, seed: int = 0) -> dict[str, Any]:
    """Entity ``i`` of ``total``: the same place for the same ``i``, values varying with ``seed``."""
    where = random.Random(i)
    dx, dy = spread(total)
    lon = round(CENTER[0] + where.uniform(-dx, dx), 6)
    lat = round(CENTER[1] + where.uniform(-dy, dy), 6)
    rng = random.Random(i * 7919 + seed)

    def reading(low: float, high: float, unit: str) -> dict[str, Any]:
        value = round(rng.uniform(low, high), 1)
        return {"type": "Property", "value": value, "unitCode": unit, "observedAt": stamp}

    return {
        "id": f"urn:ngsi-ld:AirQualityObserved:bench-{i:06d}",
        "type": "AirQualityObserved",
        "dateObserved": {"type": "Property", "value": stamp},
        "NO2": reading(5, 80, "GQ"),
        "PM10": reading(5, 70, "GQ"),
        "PM2_5": reading(2, 40, "GQ"),
        "O3": reading(10, 120, "GQ"),
        "CO": reading(100, 900, "GP"),
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
        "refDevice": {"type": "Relationship", "object": f"urn:ngsi-ld:Device:aq-{i:06d}"},
    }


def stamp_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- one backend ----------------------------------------------------------------------------------


@dataclass
class Figures:
    backend: str
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    rates: dict[str, float] = field(default_factory=dict)

    def add(self, what: str, value: str, baseline: str, ratio: str) -> None:
        self.rows.append((what, value, baseline, ratio))
        print(f"  {what:<34} {value:>16}   baseline {baseline:<30} {ratio}", flush=True)


def ok(response: httpx.Response) -> httpx.Response:
    if response.is_error:
        raise RuntimeError(
            f"{response.request.method} {response.request.url} -> {response.status_code}: "
            f"{response.text[:400]}"
        )
    return response


def upsert_batches(
    client: httpx.Client, batches: list[list[dict[str, Any]]], inflight: int = 1
) -> tuple[float, int]:
    """POST the batches to the upsert route, ``inflight`` at a time (each on a connection of
    its own); (seconds from the first request to the last answer, entities). The bodies are
    encoded before the clock starts."""
    bodies = [json.dumps(batch).encode() for batch in batches]
    clients = [client] + [
        httpx.Client(base_url=client.base_url, timeout=client.timeout, headers=client.headers)
        for _ in range(inflight - 1)
    ]

    def post(k: int) -> None:
        url = f"{API}/entityOperations/upsert"
        response = ok(clients[k % inflight].post(url, content=bodies[k], headers=JSON_HEADERS))
        if response.status_code == 207:
            raise RuntimeError(f"upsert refused entities: {response.text[:400]}")

    try:
        started = time.perf_counter()
        if inflight == 1:
            for k in range(len(bodies)):
                post(k)
        else:
            with ThreadPoolExecutor(inflight) as pool:
                list(pool.map(post, range(len(bodies))))
        spent = time.perf_counter() - started
    finally:
        for extra in clients[1:]:
            extra.close()
    return spent, sum(len(batch) for batch in batches)


def raw_insert_rate(url: str, docs: list[str], batch: int) -> float:
    """Rows/s of a plain executemany of ``docs`` (JSON text) into a scratch table of the same
    database, one transaction per ``batch`` rows (the store's engine settings: WAL on SQLite)."""
    engine = create_engine(url)
    table = f"bench_raw_{uuid.uuid4().hex[:8]}"
    kind = "TEXT" if url.startswith("sqlite") else "JSON"
    mark = "?" if url.startswith("sqlite") else "%s"
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE TABLE {table} (id VARCHAR(256) PRIMARY KEY, doc {kind})")
        rows = [(f"urn:raw:{i}", doc) for i, doc in enumerate(docs)]
        insert = f"INSERT INTO {table} (id, doc) VALUES ({mark}, {mark})"
        started = time.perf_counter()
        for start in range(0, len(rows), batch):
            with engine.begin() as conn:
                conn.exec_driver_sql(insert, rows[start : start + batch])
        seconds = time.perf_counter() - started
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE {table}")
    finally:
        engine.dispose()
    return len(rows) / seconds


def stored_docs(url: str, count: int) -> list[str]:
    """``count`` stored entity documents as JSON text (what a row of twin_entities holds)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(f"SELECT doc FROM twin_entities LIMIT {count}").all()
    finally:
        engine.dispose()
    return [r[0] if isinstance(r[0], str) else json.dumps(r[0]) for r in rows]


def bench_upserts(
    p: Participant, sizes: Sizes, fig: Figures, *, writers: int, offset: int = 0, key: str = ""
) -> None:
    """The upsert runs against ``p`` (which runs ``writers`` writer processes), on entities
    from ``offset``; rates are recorded under ``key`` + create/update (+ _inflight)."""
    total, n = sizes.entities, sizes.batch * sizes.batches
    first = datetime.now(UTC)
    later = stamp_of(first + timedelta(minutes=15))

    def batches(offset: int) -> tuple[list[list[dict[str, Any]]], list[list[dict[str, Any]]]]:
        creates = [
            [air_quality(i, total, stamp_of(first)) for i in range(s, s + sizes.batch)]
            for s in range(offset, offset + n, sizes.batch)
        ]
        updates = [[{**e, **_fresh(e, later, seed=1)} for e in batch] for batch in creates]
        return creates, updates

    runs = [(1, *batches(offset))]
    if sizes.inflight > 1 and not key:
        runs.append((sizes.inflight, *batches(offset + n)))
    rates: dict[int, tuple[float, float]] = {}
    with httpx.Client(base_url=p.base_url, timeout=120.0, headers=KEY) as client:
        # enough for the writer processes to take it: each compiles its model checks, connects
        warm = [air_quality(total + 10 + i, total, stamp_of(first)) for i in range(400)]
        upsert_batches(client, [warm])
        for inflight, creates, updates in runs:
            created_s, count = upsert_batches(client, creates, inflight)
            updated_s, _ = upsert_batches(client, updates, inflight)
            rates[inflight] = (count / created_s, count / updated_s)
    raw = raw_insert_rate(str(p.database_url), stored_docs(str(p.database_url), n), sizes.batch)
    create_rate, update_rate = rates[1]
    fig.rates.update({f"{key}create": create_rate, f"{key}update": update_rate, "raw": raw})
    base = f"{raw:,.0f} raw rows/s"
    who = f"{writers} writers" if writers else "no writers"
    for inflight, (creating, updating) in rates.items():
        how = f"upsert {sizes.batch}/batch, {who}" + (
            f", {inflight} in flight" if inflight > 1 else ""
        )
        if inflight > 1:
            fig.rates.update(create_inflight=creating, update_inflight=updating)
        fig.add(f"{how}, creates", f"{creating:,.0f} ent/s", base, f"ratio {creating / raw:.3f}")
        fig.add(f"{how}, updates", f"{updating:,.0f} ent/s", base, f"ratio {updating / raw:.3f}")


def _fresh(payload: dict[str, Any], stamp: str, seed: int) -> dict[str, Any]:
    """New readings (and observedAt) for the entity of ``payload``, same id and place."""
    i = int(payload["id"].rsplit("-", 1)[-1])
    rng = random.Random(i * 104729 + seed)
    out: dict[str, Any] = {}
    for name in ("NO2", "PM10", "PM2_5", "O3", "CO"):
        value = round(payload[name]["value"] * rng.uniform(0.8, 1.2), 1)
        out[name] = {**payload[name], "value": value, "observedAt": stamp}
    out["dateObserved"] = {"type": "Property", "value": stamp}
    return out


def fill(url: str, start: int, total: int, chunk: int = 5_000) -> float:
    """Write entities ``start`` .. ``total`` straight through the store (``insert_many``: the
    entity rows and their side tables, no temporal instances); returns the seconds it took."""
    env = bundled_context(SDM)
    assert env is not None
    terms = TermMap.build([env["@context"]])
    store = Store.open(url, upgrade=False)
    moment = datetime.now(UTC)
    now = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stamp = stamp_of(moment)
    started = time.perf_counter()
    try:
        for s in range(start, total, chunk):
            docs = [
                ent.parse_entity(air_quality(i, total, stamp), terms, now)
                for i in range(s, min(total, s + chunk))
            ]
            with store.transaction() as tx:
                tx.twin_entities.insert_many("", docs, moment)
    finally:
        store.close()
    return time.perf_counter() - started


# --- reads ----------------------------------------------------------------------------------------


def entity_url(i: int) -> str:
    return f"{API}/entities/urn:ngsi-ld:AirQualityObserved:bench-{i:06d}"


BASELINE_ROUTE = "/.well-known/dspace-version"


def bench_reads(p: Participant, sizes: Sizes, known: int, concurrency: int, fig: Figures) -> None:
    rng = random.Random(5)
    ids = [rng.randrange(known) for _ in range(sizes.samples)]
    got: dict[str, list[float]] = {"entity": [], "base": []}
    with httpx.Client(base_url=p.base_url, timeout=60.0, headers={"Link": LINK, **KEY}) as client:
        for i in ids[:20]:  # warm-up
            ok(client.get(entity_url(i)))
            ok(client.get(BASELINE_ROUTE))
        for i in ids:  # interleaved, one at a time
            for kind, path in (("entity", entity_url(i)), ("base", BASELINE_ROUTE)):
                started = time.perf_counter()
                ok(client.get(path))
                got[kind].append(time.perf_counter() - started)
    _latency_row(fig, "GET entity, sequential", got["entity"], got["base"])
    inflight = asyncio.run(_concurrent_reads(p.base_url, ids, concurrency))
    _latency_row(fig, f"GET entity, {concurrency} in flight", inflight["entity"], inflight["base"])


def _latency_row(fig: Figures, what: str, values: list[float], base: list[float]) -> None:
    p50, p95 = pct(values, 50) * 1e3, pct(values, 95) * 1e3
    b50, b95 = pct(base, 50) * 1e3, pct(base, 95) * 1e3
    fig.rates[what] = p50
    fig.add(what, f"p50 {p50:.2f} p95 {p95:.2f} ms", f"p50 {b50:.2f} p95 {b95:.2f} ms",
            f"ratio p50 {p50 / b50:.2f}")  # fmt: skip


async def _concurrent_reads(base_url: str, ids: list[int], concurrency: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    out: dict[str, list[float]] = {"entity": [], "base": []}
    async with httpx.AsyncClient(
        base_url=base_url, timeout=60.0, limits=limits, headers={"Link": LINK, **KEY}
    ) as client:

        async def run(kind: str, paths: list[str]) -> None:
            queue = list(paths)

            async def worker() -> None:
                while queue:
                    path = queue.pop()
                    started = time.perf_counter()
                    ok(await client.get(path))
                    out[kind].append(time.perf_counter() - started)

            await asyncio.gather(*(worker() for _ in range(concurrency)))

        await run("base", [BASELINE_ROUTE] * concurrency)  # open the connections
        out["base"].clear()
        for half in (ids[: len(ids) // 2], ids[len(ids) // 2 :]):  # alternate the two routes
            await run("entity", [entity_url(i) for i in half])
            await run("base", [BASELINE_ROUTE] * len(half))
    return out


# --- queries --------------------------------------------------------------------------------------


def query_params(total: int) -> dict[str, dict[str, str]]:
    dx, dy = spread(total)
    lon, lat = CENTER[0] + 0.2 * dx, CENTER[1] - 0.1 * dy
    w, h = 0.022, 0.016  # about 1.9 x 1.8 km half-widths, a skewed quadrilateral
    ring = [[lon - w, lat - h], [lon + w, lat - h * 0.8], [lon + w * 0.9, lat + h],
            [lon - w * 1.1, lat + h * 0.9], [lon - w, lat - h]]  # fmt: skip
    aq = "AirQualityObserved"
    return {
        "q + near 2 km": {
            "type": aq,
            "q": "NO2>40;PM10<50",
            "georel": "near;maxDistance==2000",
            "geometry": "Point",
            "coordinates": json.dumps([round(CENTER[0], 6), round(CENTER[1], 6)]),
            "limit": "1000",
        },
        "q + within polygon": {
            "type": aq,
            "q": "NO2>40",
            "georel": "within",
            "geometry": "Polygon",
            "coordinates": json.dumps([[[round(x, 6), round(y, 6)] for x, y in ring]]),
            "limit": "1000",
        },
    }


def bbox_of(params: dict[str, str]) -> tuple[float, float, float, float]:
    from twinspace.twin.geo import parse_geoquery

    geo = parse_geoquery(params["georel"], params["geometry"], params["coordinates"], None)
    box = geo.bbox()
    assert box is not None
    return box


def raw_select_seconds(url: str, box: tuple[float, float, float, float], repeat: int) -> float:
    """Median seconds of a raw SQL select of the docs whose location box meets ``box``."""
    engine = create_engine(url)
    sql = sa.text(
        "SELECT entity_id, doc FROM twin_entities WHERE tenant = '' AND entity_type = :t"
        " AND min_x <= :x1 AND max_x >= :x0 AND min_y <= :y1 AND max_y >= :y0"
        " ORDER BY entity_id"
    )
    args = {"t": "https://smartdatamodels.org/dataModel.Environment/AirQualityObserved",
            "x0": box[0], "y0": box[1], "x1": box[2], "y1": box[3]}  # fmt: skip
    times = []
    try:
        with engine.connect() as conn:
            for _ in range(repeat + 1):
                started = time.perf_counter()
                conn.execute(sql, args).all()
                times.append(time.perf_counter() - started)
    finally:
        engine.dispose()
    return statistics.median(times[1:])


def bench_queries(p: Participant, sizes: Sizes, fig: Figures) -> None:
    with httpx.Client(base_url=p.base_url, timeout=120.0, headers={"Link": LINK, **KEY}) as client:

        def timed(params: dict[str, str]) -> tuple[float, int]:
            times, found = [], 0
            for _ in range(sizes.queries + 1):  # the first one warms up
                started = time.perf_counter()
                found = len(ok(client.get(f"{API}/entities", params=params)).json())
                times.append(time.perf_counter() - started)
            return statistics.median(times[1:]), found

        for name, params in query_params(sizes.entities).items():
            seconds, found = timed(params)
            plain, _ = timed({"type": "AirQualityObserved", "limit": str(max(found, 1))})
            raw = raw_select_seconds(str(p.database_url), bbox_of(params), sizes.queries)
            fig.rates[name] = seconds * 1e3
            fig.add(f"{name} ({found} found)", f"{seconds * 1e3:,.1f} ms",
                    f"type-only {plain * 1e3:,.1f} ms, raw bbox SQL {raw * 1e3:,.1f} ms",
                    f"ratio {seconds / plain:.1f}")  # fmt: skip


# --- notifications --------------------------------------------------------------------------------


class Receiver:
    """A minimal HTTP/1.1 server in this process's event loop that answers 204 to every POST and
    records when each body arrived."""

    def __init__(self) -> None:
        self.arrived: list[tuple[float, bytes]] = []
        self.signal = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                self.arrived.append((time.perf_counter(), body))
                self.signal.set()
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the caller hung up, or the run is over (a kept-alive connection)
        finally:
            writer.close()


async def _notifications(base_url: str, total: int, count: int) -> dict[str, list[float]]:
    receiver = Receiver()
    await receiver.start()
    out: dict[str, list[float]] = {"notified": [], "answered": [], "base": []}
    stamp = stamp_of(datetime.now(UTC))
    entity = {**air_quality(total + 1, total, stamp), "id": NOTIFY_ID}
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0, headers=KEY) as client:
        subscription = {
            "type": "Subscription",
            "entities": [{"id": NOTIFY_ID, "type": "AirQualityObserved"}],
            "watchedAttributes": ["NO2"],
            "notification": {
                "attributes": ["NO2"],
                "endpoint": {"uri": f"http://127.0.0.1:{receiver.port}/notify",
                             "accept": "application/json"},
            },
        }  # fmt: skip
        ok(await client.post(f"{API}/subscriptions", json=subscription, headers={"Link": LINK}))
        rng = random.Random(9)
        for n in range(count + 3):  # three to warm up
            entity["NO2"] = {**entity["NO2"], "value": 100.0 + n}
            receiver.signal.clear()
            seen = len(receiver.arrived)
            await asyncio.sleep(rng.uniform(0.0, 0.1))  # sample the notifier's polling phase
            body = json.dumps([entity]).encode()
            started = time.perf_counter()
            ok(await client.post(f"{API}/entityOperations/upsert", content=body,
                                 headers=JSON_HEADERS))  # fmt: skip
            answered = time.perf_counter()
            while len(receiver.arrived) == seen:
                await asyncio.wait_for(receiver.signal.wait(), 30.0)
                receiver.signal.clear()
            arrived, payload = receiver.arrived[seen]
            if f"{100.0 + n}" not in payload.decode():
                raise RuntimeError(f"unexpected notification: {payload[:300]!r}")
            if n >= 3:
                out["notified"].append(arrived - started)
                out["answered"].append(answered - started)
        sample = receiver.arrived[-1][1]
        target = f"http://127.0.0.1:{receiver.port}/notify"
        for _ in range(count + 3):
            started = time.perf_counter()
            ok(await client.post(target, content=sample,
                                 headers={"Content-Type": "application/json"}))  # fmt: skip
            out["base"].append(time.perf_counter() - started)
        del out["base"][:3]
    await receiver.close()
    return out


def bench_notifications(p: Participant, sizes: Sizes, fig: Figures) -> None:
    got = asyncio.run(_notifications(p.base_url, sizes.entities, sizes.notifications))
    _latency_row(fig, "upsert -> notification", got["notified"], got["base"])
    answered = got["answered"]
    print(f"    (of which the upsert's own answer: p50 {pct(answered, 50) * 1e3:.2f} ms, "
          f"p95 {pct(answered, 95) * 1e3:.2f} ms)")  # fmt: skip


# --- driver ---------------------------------------------------------------------------------------


@contextmanager
def database(backend: str, root: Path) -> Iterator[str | None]:
    """The database URL to give the participant (None: its own SQLite file)."""
    if backend == "sqlite":
        yield None
        return
    url = os.environ.get("TWINSPACE_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    admin = sa.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with postgres_schemas(admin, 1) as urls:
            yield urls[0]
    finally:
        admin.dispose()


def postgres_reachable() -> str | None:
    """None when the PostgreSQL server answers, else why not."""
    url = os.environ.get("TWINSPACE_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    engine = sa.create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    finally:
        engine.dispose()
    return None


def run_backend(backend: str, sizes: Sizes, concurrency: int, writers: int) -> Figures:
    fig = Figures(backend)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="twinspace-bench-twin-")))
        db_url = stack.enter_context(database(backend, tmp))
        cluster = stack.enter_context(Cluster(tmp, fast=False))
        p = cluster.participant("twin", database_url=db_url, TWINSPACE_TWIN_WRITERS=str(writers))
        print(f"{backend}: one participant process with {writers} writer processes "
              f"({str(p.database_url).split('?')[0]})", flush=True)  # fmt: skip
        steps: list[tuple[str, Callable[[], None]]] = [
            ("upserts", lambda: bench_upserts(p, sizes, fig, writers=writers)),
            ("reads", lambda: bench_reads(p, sizes, sizes.upserted, concurrency, fig)),
            ("fill", lambda: _fill_step(p, sizes)),
            ("queries", lambda: bench_queries(p, sizes, fig)),
            ("notifications", lambda: bench_notifications(p, sizes, fig)),
        ]
        if writers:  # the same upserts written by the server process alone, for comparison
            single_url = stack.enter_context(database(backend, tmp / "single"))
            steps.insert(1, ("upserts without writers",
                             lambda: _single_step(cluster, single_url, sizes, fig)))  # fmt: skip
        for name, step in steps:
            try:
                step()
            except Exception:
                print(f"{backend}: the {name} step failed; participant log:", file=sys.stderr)
                print(cluster.logs(), file=sys.stderr)
                raise
    return fig


def _single_step(cluster: Cluster, db_url: str | None, sizes: Sizes, fig: Figures) -> None:
    p = cluster.participant("twin-single", database_url=db_url, TWINSPACE_TWIN_WRITERS="0")
    try:
        bench_upserts(p, sizes, fig, writers=0, key="single_")
    finally:
        p.stop()


def _fill_step(p: Participant, sizes: Sizes) -> None:
    start = sizes.upserted
    if start >= sizes.entities:
        return
    seconds = fill(str(p.database_url), start, sizes.entities)
    if not str(p.database_url).startswith("sqlite"):  # what autovacuum does soon after a load
        engine = create_engine(str(p.database_url))
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        engine.dispose()
    print(f"  (filled to {sizes.entities:,} entities through the store in {seconds:.1f} s: "
          f"{sizes.entities - start:,} rows without temporal instances)", flush=True)  # fmt: skip


def summary(figures: list[Figures], sizes: Sizes, writers: str) -> None:
    print("\nsummary")
    width = max(len(r[0]) for f in figures for r in f.rows)
    for f in figures:
        print(f"[{f.backend}]")
        for what, value, baseline, ratio in f.rows:
            print(f"  {what:<{width}}  {value:>24}  | {baseline:<44} {ratio}")
    for f in figures:
        worst = min(f.rates["create"], f.rates["update"])
        verdict = "met" if worst >= TARGET else "missed"
        print(f"target {TARGET:,} entity upserts/s on {f.backend} (batches of {sizes.batch}, one "
              f"at a time, {writers}): {verdict} (creates {f.rates['create']:,.0f}/s, updates "
              f"{f.rates['update']:,.0f}/s)")  # fmt: skip
        if "single_create" in f.rates:
            print(f"  without writer processes: creates {f.rates['single_create']:,.0f}/s, "
                  f"updates {f.rates['single_update']:,.0f}/s")  # fmt: skip
        if "create_inflight" in f.rates:
            worst = min(f.rates["create_inflight"], f.rates["update_inflight"])
            verdict = "met" if worst >= TARGET else "missed"
            print(f"target {TARGET:,} entity upserts/s on {f.backend} ({sizes.inflight} batches in "
                  f"flight): {verdict} (creates {f.rates['create_inflight']:,.0f}/s, updates "
                  f"{f.rates['update_inflight']:,.0f}/s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run with tiny counts")
    parser.add_argument("--sqlite", action="store_true", help="SQLite only")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL only")
    parser.add_argument("--batch", type=int, help="entities per upsert batch (default 1000)")
    parser.add_argument("--batches", type=int, help="timed upsert batches (default 20)")
    parser.add_argument("--entities", type=int, help="entities for the queries (default 100000)")
    parser.add_argument("--concurrency", type=int, default=8, help="GETs in flight (default 8)")
    parser.add_argument(
        "--inflight",
        type=int,
        default=2,
        help="upsert batches in flight in the second run (default 2; 1: none)",
    )
    parser.add_argument("--writers", type=int, default=2,
                        help="the participant's writer processes (TWINSPACE_TWIN_WRITERS, "
                             "default 2); with any, the upserts are also run without")  # fmt: skip
    args = parser.parse_args()
    base = QUICK if args.quick else FULL
    sizes = Sizes(
        batch=args.batch or base.batch,
        batches=args.batches or base.batches,
        entities=args.entities or base.entities,
        samples=base.samples,
        queries=base.queries,
        notifications=base.notifications,
        inflight=max(args.inflight, 1),
    )
    sizes = Sizes(**{**sizes.__dict__, "entities": max(sizes.entities, sizes.upserted)})
    backends = [b for b in ("sqlite", "postgres") if getattr(args, b)] or ["sqlite", "postgres"]
    if "postgres" in backends and (why := postgres_reachable()) is not None:
        if args.postgres:
            raise SystemExit(f"PostgreSQL is not reachable: {why}")
        print(f"note: PostgreSQL skipped, not reachable ({why})")
        backends.remove("postgres")
    print(f"NGSI-LD twin: {sizes.batches} upsert batches of {sizes.batch} AirQualityObserved "
          f"entities, {sizes.entities:,} for the queries; {os.cpu_count()} CPUs", flush=True)  # fmt: skip
    figures = [run_backend(b, sizes, args.concurrency, args.writers) for b in backends]
    summary(figures, sizes, f"{args.writers} writer processes" if args.writers else "no writers")


if __name__ == "__main__":
    main()
