"""Transparency-log core: appends per second and proof verification times, against raw SHA-256.

Builds ``--count`` canonical log entries (``agreement`` entries made by ``make_entry``, about 330
bytes of RFC 8785 JSON each, all different) before the clock starts. Then, in this process, best
of ``--repeat`` rounds each:

* ``hashlib.sha256`` over every entry's bytes (the baseline: the least any log must do);
* ``MerkleTree.append(leaf_hash(entry))`` for every entry into a fresh tree;
* ``MerkleTree.append`` of the precomputed leaf hashes (the tree's own share).

In the tree of ``--count`` leaves it times ``verify_inclusion`` for ``--proofs`` random leaves
and ``verify_consistency`` from random earlier sizes, one call at a time (median), next to the
raw SHA-256 calls each proof needs (65- and 64-byte inputs) timed the same way. It prints the
figures, their ratios and the targets: >= 50,000 appends/s, inclusion verification < 50 us.

    python bench/ledger.py              # 1,000,000 entries
    python bench/ledger.py --quick      # 100,000 entries
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from twinspace.ledger import (  # noqa: E402
    MerkleTree,
    canonical_json,
    check_entry,
    leaf_hash,
    make_entry,
    parse_canonical,
    verify_consistency,
    verify_inclusion,
)

APPEND_TARGET = 50_000
INCLUSION_TARGET_US = 50.0
PROVIDER = "did:web:mobility.example:mobility"
CONSUMER = "did:web:city.example:city"


def entries(count: int) -> list[bytes]:
    """``count`` distinct canonical agreement entries of equal length."""
    template = make_entry(
        "agreement",
        {
            "agreement": "urn:uuid:AGREEMENT",
            "agreement_hash": "ab" * 32,
            "provider": PROVIDER,
            "consumer": CONSUMER,
        },
        submitter=PROVIDER,
        at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
    )
    text = canonical_json(template).decode()
    head, rest = text.split("AGREEMENT")  # members sorted: agreement, agreement_hash, ...
    middle, tail = rest.split("ab" * 32)
    out = []
    for i in range(count):
        x = f"{i:032x}"
        uuid = f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"
        digest = f"{i * 0x9E3779B97F4A7C15 % 2**256:064x}"
        out.append(f"{head}{uuid}{middle}{digest}{tail}".encode())
    for sample in (out[0], out[-1]):
        check_entry(parse_canonical(sample))  # still a valid, canonical entry
    return out


def best_rate(run: Callable[[], None], count: int, repeat: int) -> float:
    best = 0.0
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = max(best, count / (time.perf_counter() - started))
    return best


def median_us(calls: list[Callable[[], object]]) -> float:
    times = []
    clock = time.perf_counter_ns
    for call in calls:
        started = clock()
        call()
        times.append(clock() - started)
    return statistics.median(times) / 1000


def raw_hashes(count: int, size: int) -> Callable[[], object]:
    data = [bytes([i]) * size for i in range(count)]
    sha = hashlib.sha256

    def run() -> object:
        for item in data:
            sha(item).digest()
        return None

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=None, help="entries (tree size)")
    parser.add_argument("--proofs", type=int, default=5000, help="proofs verified (median)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds for the rates, best counts")
    parser.add_argument("--quick", action="store_true", help="100,000 entries")
    args = parser.parse_args()
    count = args.count or (100_000 if args.quick else 1_000_000)
    rng = random.Random(9162)

    data = entries(count)
    size = sum(map(len, data)) / count
    leaves = [leaf_hash(item) for item in data]
    sha = hashlib.sha256

    def baseline() -> None:
        for item in data:
            sha(item).digest()

    tree = MerkleTree()

    def appends() -> None:
        nonlocal tree
        tree = MerkleTree()
        append = tree.append
        for item in data:
            append(leaf_hash(item))

    def appends_prehashed() -> None:
        fresh = MerkleTree()
        append = fresh.append
        for leaf in leaves:
            append(leaf)

    raw = best_rate(baseline, count, args.repeat)
    full = best_rate(appends, count, args.repeat)
    tree_only = best_rate(appends_prehashed, count, args.repeat)
    assert tree.size == count and tree.leaf(count - 1) == leaves[-1]
    root = tree.root()

    indexes = [rng.randrange(count) for _ in range(args.proofs)]
    inclusion = [(i, tree.inclusion_proof(i, count)) for i in indexes]
    for i, proof in inclusion[:10]:
        verify_inclusion(leaves[i], i, count, proof, root)
    olds = [rng.randrange(1, count) for _ in range(args.proofs)]
    consistency = [(m, tree.root(m), tree.consistency_proof(m, count)) for m in olds]
    for m, old_root, proof in consistency[:10]:
        verify_consistency(m, count, old_root, root, proof)
    inclusion_len = statistics.median(len(p) for _, p in inclusion)
    consistency_len = statistics.median(len(p) for _, _, p in consistency)

    verify_in = median_us(
        [lambda i=i, p=p: verify_inclusion(leaves[i], i, count, p, root) for i, p in inclusion]
    )
    verify_co = median_us(
        [lambda m=m, r=r, p=p: verify_consistency(m, count, r, root, p) for m, r, p in consistency]
    )
    prove_in = median_us([lambda i=i: tree.inclusion_proof(i, count) for i in indexes[:1000]])
    prove_co = median_us([lambda m=m: tree.consistency_proof(m, count) for m in olds[:1000]])
    raw_in = median_us([raw_hashes(int(inclusion_len), 65)] * 1000)
    raw_co = median_us([raw_hashes(int(2 * consistency_len), 65)] * 1000)

    def line(label: str, value: str) -> None:
        print(f"  {label:<44}{value}")

    print(f"python {platform.python_version()} on {platform.machine()}, best of {args.repeat}")
    print(f"{count:,} canonical entries of {size:.0f} bytes (agreement entries, all different):")
    line("hashlib.sha256 over the entry bytes:", f"{raw:12,.0f} entries/s")
    line("MerkleTree.append(leaf_hash(entry)):", f"{full:12,.0f} appends/s")
    line("ratio (appends / raw sha256):", f"{full / raw:12.2f}")
    line("MerkleTree.append(precomputed leaf hash):", f"{tree_only:12,.0f} appends/s")
    print(f"tree of {count:,} leaves, median of {args.proofs:,} calls:")
    line(
        f"verify_inclusion ({inclusion_len:.0f} hashes):",
        f"{verify_in:9.1f} us   (raw sha256 x{inclusion_len:.0f}: {raw_in:.1f} us, "
        f"ratio {verify_in / raw_in:.2f})",
    )
    line(
        f"verify_consistency ({consistency_len:.0f} hashes):",
        f"{verify_co:9.1f} us   (raw sha256 x{2 * consistency_len:.0f}: {raw_co:.1f} us, "
        f"ratio {verify_co / raw_co:.2f})",
    )
    line("inclusion_proof (generation):", f"{prove_in:9.1f} us")
    line("consistency_proof (generation):", f"{prove_co:9.1f} us")
    met = "met" if full >= APPEND_TARGET else "NOT met"
    print(f"target {APPEND_TARGET:,} appends/s: {met}")
    met = "met" if verify_in < INCLUSION_TARGET_US else "NOT met"
    print(f"target inclusion verification < {INCLUSION_TARGET_US:.0f} us at {count:,}: {met}")


if __name__ == "__main__":
    main()
