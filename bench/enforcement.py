"""Data-plane request overhead of usage enforcement: pulls with the agreement's policy decided
on every request, against the same pulls with enforcement off, in one run.

Starts a consumer and two providers as real processes (loopback, SQLite, ``auth=none`` so that
only enforcement differs): one with ``TWINSPACE_USAGE_ENFORCEMENT=true`` (the default) and one
with it off. Both offer the same 1 KiB file under the same 8-constraint policy (time window,
agreement age, use count, recipient, purpose, deployment location, spatial area), the consumer
negotiates with each and starts a pull transfer, then the bench times ``--count`` GETs of
``/public/data`` on each provider with the transfer's token and the declaration headers, at
``--concurrency``. With enforcement each request also compiles-once/evaluates the policy, counts
the use and writes a usage-log entry in the token's transaction.

    python bench/enforcement.py            # 3 rounds of 2000 pulls, 8 in flight
    python bench/enforcement.py --quick    # 2 rounds of 300
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from tests.e2e.procs import (  # noqa: E402
    Cluster,
    Participant,
    catalog_offer,
    edr,
    publish,
    start_negotiation,
    start_transfer,
    wait_negotiation,
    wait_transfer,
)

ASSET = "bench-asset"
HEADERS = {
    "Twinspace-Purpose": "traffic-planning",
    "Twinspace-Deployment-Location": "dc-1",
    "Twinspace-Location": "4.85,45.75",
}


def policy(consumer_id: str) -> dict[str, Any]:
    constraints = [
        {"leftOperand": "dateTime", "operator": "gteq", "rightOperand": "2020-01-01T00:00:00Z"},
        {"leftOperand": "dateTime", "operator": "lt", "rightOperand": "2100-01-01T00:00:00Z"},
        {"leftOperand": "elapsedTime", "operator": "lteq", "rightOperand": "P30D"},
        {"leftOperand": "count", "operator": "lteq", "rightOperand": "100000000"},
        {"leftOperand": "recipient", "operator": "eq", "rightOperand": consumer_id},
        {"leftOperand": "purpose", "operator": "isAnyOf", "rightOperand": ["traffic-planning"]},
        {
            "leftOperand": "twinspace:deploymentLocation",
            "operator": "isAnyOf",
            "rightOperand": ["dc-1", "edge-7"],
        },
        {
            "leftOperand": "spatial",
            "operator": "isPartOf",
            "rightOperand": {
                "type": "Polygon",
                "coordinates": [[[4.7, 45.6], [5.0, 45.6], [5.0, 45.9], [4.7, 45.9], [4.7, 45.6]]],
            },
        },
    ]
    return {"permission": [{"action": "use", "constraint": constraints}]}


def pull_transfer(consumer: Participant, provider: Participant) -> tuple[str, str]:
    offer = catalog_offer(consumer, provider.dsp_url, ASSET)
    negotiation = wait_negotiation(consumer, start_negotiation(consumer, provider.dsp_url, offer))
    transfer_id = start_transfer(
        consumer, provider.dsp_url, negotiation["contractAgreementId"], purpose="traffic-planning"
    )
    wait_transfer(consumer, transfer_id, "STARTED")
    return edr(consumer, transfer_id)


async def timed(url: str, token: str, count: int, concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {token}", **HEADERS}
    async with httpx.AsyncClient(timeout=60.0, limits=limits, headers=headers) as client:
        per_worker, extra = divmod(count, concurrency)

        async def worker(n: int) -> None:
            for _ in range(n):
                r = await client.get(url)
                if r.status_code != 200:
                    raise RuntimeError(f"{url}: HTTP {r.status_code}: {r.text[:300]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker(per_worker + (i < extra)) for i in range(concurrency)))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=None, help="pulls per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per side (default 3)")
    parser.add_argument("--concurrency", type=int, default=8, help="in flight (default 8)")
    parser.add_argument("--quick", action="store_true", help="2 rounds of 300 pulls")
    args = parser.parse_args()
    count = args.count or (300 if args.quick else 2000)
    rounds = args.rounds or (2 if args.quick else 3)

    with (
        tempfile.TemporaryDirectory(prefix="twinspace-bench-enf-") as tmp,
        Cluster(Path(tmp), fast=False) as cluster,
    ):
        root = Path(tmp)
        consumer = cluster.participant("consumer")
        enforced = cluster.participant("enforced")
        plain = cluster.participant("plain", TWINSPACE_USAGE_ENFORCEMENT="false")
        data = root / "asset.bin"
        data.write_bytes(b"x" * 1024)
        for provider in (enforced, plain):
            publish(provider, ASSET, data, policy=policy(str(consumer.participant_id)))
        targets = {"on": pull_transfer(consumer, enforced), "off": pull_transfer(consumer, plain)}
        for url, token in targets.values():  # warm-up (the policy is compiled on first use)
            asyncio.run(timed(url, token, 50, 4))

        print(
            f"data-plane pulls of 1 KiB: {rounds} rounds of {count} per provider, "
            f"{args.concurrency} in flight; 8-constraint policy (one uvicorn process and SQLite "
            "file per provider)",
            flush=True,
        )
        rates: dict[str, list[float]] = {"on": [], "off": []}
        for _ in range(rounds):
            for side in ("off", "on"):
                url, token = targets[side]
                try:
                    seconds = asyncio.run(timed(url, token, count, args.concurrency))
                except Exception:
                    print(cluster.logs(), file=sys.stderr)
                    raise
                rates[side].append(count / seconds)
        ratios = [on / off for on, off in zip(rates["on"], rates["off"], strict=True)]
        for side, label in (("off", "enforcement off"), ("on", "enforcement on")):
            shown = ", ".join(f"{r:,.0f}" for r in rates[side])
            print(f"  {label:<16} {statistics.median(rates[side]):8,.0f} pulls/s  ({shown})")
        per_off = 1000 / statistics.median(rates["off"])
        per_on = 1000 / statistics.median(rates["on"])
        print(
            f"  ratio (on / off): {statistics.median(ratios):.2f}  "
            f"(~{per_on - per_off:.2f} ms more per request at this concurrency)"
        )


if __name__ == "__main__":
    main()
