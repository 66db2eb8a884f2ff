"""Verified DSP calls per second (DCP on, warm caches) against the same calls with auth off.

Starts, as real processes on loopback: a governance authority, a consumer (only its DID document
and Credential Service are used), a provider with ``auth=dcp`` and a provider with ``auth=none``,
both publishing the same single asset. The consumer is onboarded, fetches its credentials, and
the bench signs one fresh self-issued ID token per call with the consumer's key (made before the
clock starts, so that only the provider's side is timed). Each timed call is a DSP catalog
request (``POST /dsp/catalog/request``). With DCP the provider verifies the token (signature
against the cached DID document, audience, time window, jti recorded in its database) and
re-checks the caller's credential status against the cached status list; the presentation itself
was fetched once, at warm-up. Rounds alternate between the two providers; the ratio printed is
the median over rounds.

    python bench/auth.py              # 3 rounds of 2000 calls each, 8 in flight
    python bench/auth.py --quick      # 2 rounds of 300 calls, 8 in flight
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from tests.e2e.procs import Cluster, Participant, publish  # noqa: E402

from twinspace.identity import create_access_token, create_id_token  # noqa: E402
from twinspace.protocol import messages as m  # noqa: E402
from twinspace.trust.participant import KEY_FRAGMENT, load_or_create_key  # noqa: E402

ASSET = "bench-asset"
DATASPACE = "urn:twinspace:dataspace:bench"
DEV = {"TWINSPACE_ALLOW_HTTP_DID": "true", "TWINSPACE_DATASPACE": DATASPACE}


def onboard(authority: Participant, did: str) -> None:
    body = {
        "did": did,
        "legalName": "Bench Consumer GmbH",
        "registrationNumber": "HRB-1",
        "country": "DE",
        "roles": ["consumer"],
    }
    r = httpx.post(
        f"{authority.base_url}/authority/admin/participants",
        json=body,
        headers={"X-Api-Key": authority.api_key},
        timeout=10,
    )
    r.raise_for_status()


def wait_enrolled(p: Participant, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(
            f"{p.base_url}/management/v3/credentials",
            headers={"X-Api-Key": p.api_key},
            timeout=5,
        )
        if r.status_code == 200 and len(r.json()["credentials"]) >= 2:
            return
        time.sleep(0.1)
    raise TimeoutError(f"{p.name} got no credentials:\n{p.log_tail()}")


def tokens(consumer: Participant, audience: str, count: int) -> list[str]:
    key = load_or_create_key(
        consumer.data_dir / f"{consumer.name}.key.json", f"{consumer.did}#{KEY_FRAGMENT}"
    )
    now = datetime.now(UTC)
    access = create_access_token(key, verifier=audience, now=now, lifetime=timedelta(minutes=9))
    return [
        "Bearer "
        + create_id_token(
            key, audience=audience, now=now, lifetime=timedelta(minutes=9), access_token=access
        )
        for _ in range(count)
    ]


async def timed(url: str, headers: list[str], concurrency: int) -> float:
    """Seconds for one POST per Authorization value, ``concurrency`` in flight."""
    body = m.catalog_request()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    queue = list(reversed(headers))
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as client:

        async def worker() -> None:
            while queue:
                auth = queue.pop()
                r = await client.post(url, json=body, headers={"Authorization": auth})
                if r.status_code != 200:
                    raise RuntimeError(f"{url}: HTTP {r.status_code}: {r.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=None, help="calls per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per side (default 3)")
    parser.add_argument("--concurrency", type=int, default=None, help="in flight (default 8)")
    parser.add_argument("--quick", action="store_true", help="2 rounds of 300 calls, 8 in flight")
    args = parser.parse_args()
    count = args.count or (300 if args.quick else 2000)
    rounds = args.rounds or (2 if args.quick else 3)
    concurrency = args.concurrency or 8

    with (
        tempfile.TemporaryDirectory(prefix="twinspace-bench-auth-") as tmp,
        Cluster(Path(tmp), fast=False) as cluster,
    ):
        root = Path(tmp)
        authority = cluster.participant(
            "authority",
            ready_path="/authority/did.json",
            TWINSPACE_SERVE="authority",
            TWINSPACE_AUTH="dcp",
            **DEV,
        )
        dcp = {"TWINSPACE_AUTH": "dcp", "TWINSPACE_AUTHORITY": authority.did, **DEV}
        consumer = cluster.participant("consumer", start=False, **dcp)
        provider = cluster.participant("provider", start=False, **dcp)
        for p in (consumer, provider):
            onboard(authority, p.did)
            p.start()
        open_provider = cluster.participant("open", TWINSPACE_AUTH="none")
        wait_enrolled(consumer)
        data = root / "asset.csv"
        data.write_text("a,b\n1,2\n")
        publish(provider, ASSET, data, "text/csv")
        publish(open_provider, ASSET, data, "text/csv")

        dcp_url = provider.dsp_url + "/catalog/request"
        open_url = open_provider.dsp_url + "/catalog/request"
        # warm-up: DID documents, the presentation and the status lists get cached
        asyncio.run(timed(dcp_url, tokens(consumer, provider.did, 50), 4))
        asyncio.run(timed(open_url, ["urn:bench"] * 50, 4))

        print(
            f"DSP catalog requests: {rounds} rounds of {count} per provider, {concurrency} in "
            "flight (each provider one uvicorn process with SQLite; caches warm)",
            flush=True,
        )
        rates: dict[str, list[float]] = {"dcp": [], "none": []}
        for _ in range(rounds):
            signed = tokens(consumer, provider.did, count)
            rates["none"].append(
                count / asyncio.run(timed(open_url, ["urn:bench"] * count, concurrency))
            )
            rates["dcp"].append(count / asyncio.run(timed(dcp_url, signed, concurrency)))
        ratios = [d / n for d, n in zip(rates["dcp"], rates["none"], strict=True)]
        for side, label in (("none", "auth off"), ("dcp", "DCP verified")):
            shown = ", ".join(f"{r:,.0f}" for r in rates[side])
            print(f"  {label:<13} {statistics.median(rates[side]):8,.0f} calls/s  ({shown})")
        print(
            f"  ratio (DCP verified / auth off): {statistics.median(ratios):.2f} "
            f"(per round: {', '.join(f'{r:.2f}' for r in ratios)})"
        )


if __name__ == "__main__":
    main()
