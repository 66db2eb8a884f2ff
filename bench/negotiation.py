"""Full contract negotiations per second between two connector processes, against bare HTTP.

Starts a provider and a consumer (each its own uvicorn process and SQLite file, default settings)
on loopback, publishes one asset, then drives ``--count`` negotiations through the consumer's
management API with at most ``--concurrency`` in flight, each polled until FINALIZED. In the same
run it times as many bare HTTP round trips (``GET /.well-known/dspace-version``) on the same
server stack at the same concurrency, and prints both rates, their ratio, and how many HTTP round
trips one negotiation took (DSP messages between the connectors, read from both outboxes, plus the
management calls of the driver).

    python bench/negotiation.py                # 200 negotiations, 50 at a time
    python bench/negotiation.py --quick        # 40 negotiations, 10 at a time
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from tests.e2e.procs import (  # noqa: E402
    PROTOCOL,
    Cluster,
    Participant,
    catalog_offer,
    publish,
)

ASSET = "bench-asset"
POLL_SECONDS = 0.05
NEGOTIATION_TIMEOUT = 120.0
RUN_TIMEOUT = 900.0
MAX_BARE = 50_000


@dataclass
class Outcome:
    seconds: float
    management_calls: int = 0
    latencies: list[float] = field(default_factory=list)


async def poll(client: httpx.AsyncClient, path: str) -> httpx.Response:
    """GET ``path``; a keep-alive connection the server closed meanwhile is retried (twice)."""
    for attempt in range(3):
        try:
            return await client.get(path)
        except httpx.TransportError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def negotiate_once(
    client: httpx.AsyncClient, provider_dsp: str, offer: dict[str, Any]
) -> tuple[float, int]:
    """One negotiation to FINALIZED: (latency, management round trips it took)."""
    started = time.perf_counter()
    body = {"counterPartyAddress": provider_dsp, "protocol": PROTOCOL, "policy": offer}
    r = await client.post("/contractnegotiations", json=body)
    r.raise_for_status()
    nid = r.json()["@id"]
    calls = 1
    deadline = started + NEGOTIATION_TIMEOUT
    while True:
        await asyncio.sleep(POLL_SECONDS)
        r = await poll(client, f"/contractnegotiations/{nid}")
        calls += 1
        r.raise_for_status()
        state = r.json()["state"]
        if state == "FINALIZED":
            return time.perf_counter() - started, calls
        if state == "TERMINATED":
            raise RuntimeError(f"negotiation {nid} was terminated: {r.json()}")
        if time.perf_counter() > deadline:
            raise TimeoutError(f"negotiation {nid} still {state} after {NEGOTIATION_TIMEOUT}s")


async def run_negotiations(
    consumer: Participant, provider_dsp: str, offer: dict[str, Any], count: int, concurrency: int
) -> Outcome:
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=consumer.base_url + "/management/v3",
        headers={"X-Api-Key": consumer.api_key},
        timeout=60.0,
        limits=limits,
    ) as client:

        async def one() -> tuple[float, int]:
            async with gate:
                return await negotiate_once(client, provider_dsp, offer)

        started = time.perf_counter()
        results = await asyncio.wait_for(
            asyncio.gather(*(one() for _ in range(count))), RUN_TIMEOUT
        )
        elapsed = time.perf_counter() - started
    return Outcome(
        seconds=elapsed,
        management_calls=sum(calls for _, calls in results),
        latencies=[lat for lat, _ in results],
    )


async def run_bare(url: str, count: int, concurrency: int) -> float:
    """Seconds for ``count`` GETs of ``url`` with at most ``concurrency`` in flight."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as client:
        r = await client.get(url)
        r.raise_for_status()
        per_worker, extra = divmod(count, concurrency)

        async def worker(n: int) -> None:
            for _ in range(n):
                (await client.get(url)).raise_for_status()

        started = time.perf_counter()
        await asyncio.wait_for(
            asyncio.gather(*(worker(per_worker + (i < extra)) for i in range(concurrency))),
            RUN_TIMEOUT,
        )
        return time.perf_counter() - started


def dsp_round_trips(*participants: Participant) -> tuple[int, int]:
    """(outbound DSP messages, delivery attempts) in the participants' outboxes."""
    rows = [row for p in participants for row in p.outbox()]
    return len(rows), sum(row.attempts for row in rows)


def retried(*participants: Participant) -> list[str]:
    """Why outbound messages needed more than one attempt (the last error of each)."""
    return [
        f"{p.name}: {row.message_type} x{row.attempts}: {row.last_error or 'no error kept'}"
        for p in participants
        for row in p.outbox()
        if row.attempts > 1
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=None, help="negotiations (default 200)")
    parser.add_argument("--concurrency", type=int, default=None, help="in flight (default 50)")
    parser.add_argument("--warmup", type=int, default=5, help="negotiations before timing")
    parser.add_argument("--quick", action="store_true", help="40 negotiations, 10 at a time")
    args = parser.parse_args()
    count = args.count or (40 if args.quick else 200)
    concurrency = min(count, args.concurrency or (10 if args.quick else 50))
    if not 1 <= count <= 10_000:
        parser.error("--count must be between 1 and 10000")

    with (
        tempfile.TemporaryDirectory(prefix="twinspace-bench-") as tmp,
        Cluster(Path(tmp), fast=False) as cluster,
    ):
        root = Path(tmp)
        provider = cluster.participant("provider")
        consumer = cluster.participant("consumer")
        data = root / "asset.csv"
        data.write_text("a,b\n1,2\n")
        publish(provider, ASSET, data, "text/csv")
        offer = catalog_offer(consumer, provider.dsp_url, ASSET)

        asyncio.run(run_negotiations(consumer, provider.dsp_url, offer, args.warmup, 1))
        warm_messages, warm_attempts = dsp_round_trips(provider, consumer)

        print(
            f"negotiations: {count} through the consumer's management API, "
            f"{concurrency} in flight, polled every {POLL_SECONDS * 1000:.0f} ms "
            f"(provider and consumer: one uvicorn process and SQLite file each)",
            flush=True,
        )
        outcome = asyncio.run(
            run_negotiations(consumer, provider.dsp_url, offer, count, concurrency)
        )
        messages, attempts = dsp_round_trips(provider, consumer)
        messages -= warm_messages
        attempts -= warm_attempts
        neg_rate = count / outcome.seconds

        dsp_per = attempts / count
        mgmt_per = outcome.management_calls / count
        trips_per = dsp_per + mgmt_per
        bare_count = min(MAX_BARE, max(count, round(trips_per * count)))
        bare_url = consumer.base_url + "/.well-known/dspace-version"
        bare_seconds = asyncio.run(run_bare(bare_url, bare_count, concurrency))
        trip_rate = bare_count / bare_seconds
        ceiling = trip_rate / trips_per
        dsp_ceiling = trip_rate / dsp_per

        lat = outcome.latencies
        print(
            f"  {count} negotiations in {outcome.seconds:.2f} s; latency "
            f"p50 {statistics.median(lat) * 1000:.0f} ms, p95 {percentile(lat, 0.95) * 1000:.0f} ms"
        )
        print(
            f"  round trips per negotiation: {dsp_per:.2f} DSP messages "
            f"({messages} queued, {attempts} attempts) + {mgmt_per:.2f} management calls "
            f"(1 POST + {mgmt_per - 1:.2f} polls) = {trips_per:.2f}"
        )
        for line in retried(provider, consumer):
            print(f"  retried: {line}")
        print(
            f"bare round trips: {bare_count} x GET /.well-known/dspace-version, "
            f"{concurrency} in flight, in {bare_seconds:.2f} s"
        )
        print()
        print(f"negotiations/s:  {neg_rate:10.1f}")
        print(f"round trips/s:   {trip_rate:10.1f}")
        print(
            f"ratio:           {trip_rate / neg_rate:10.1f}  (bare round trips per negotiation time)"
        )
        print(
            f"relative:        {neg_rate * trips_per / trip_rate:10.1%}  of the ceiling "
            f"{ceiling:.1f} negotiations/s = round trips/s / {trips_per:.2f} round trips each"
        )
        print(
            f"                 {neg_rate * dsp_per / trip_rate:10.1%}  of "
            f"{dsp_ceiling:.1f} negotiations/s counting the {dsp_per:.2f} DSP messages alone"
        )


if __name__ == "__main__":
    main()
