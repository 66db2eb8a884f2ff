"""Compiled ODRL decisions per second, against re-interpreting the JSON policy on every call.

One agreement whose permission holds 10 constraints (purpose, recipient, two dateTime bounds,
elapsedTime, count, membership, role, country, security level) and a delete-after duty. The same
allowed request is decided ``--count`` times by ``CompiledPolicy.evaluate`` (compiled once, before
the clock starts) and by ``evaluate(json_doc, request)``, which parses the JSON and walks the model
with every reason on each call (the reference semantics). Both run in this process, one after the
other, best of ``--repeat`` rounds each; it prints both rates, their ratio, and the check against
the target of 500,000 compiled decisions/s. A denied request is timed too (denials take the
reference path, to explain themselves).

    python bench/policy.py              # 1,000,000 compiled decisions, 20,000 interpreted
    python bench/policy.py --quick      # 100,000 and 2,000
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from twinspace.policy import Decision, Request, compile_policy, evaluate, parse_policy  # noqa: E402

TARGET = 500_000

AGREEMENT: dict[str, Any] = {
    "@id": "urn:agreement:bench",
    "@type": "Agreement",
    "assigner": "did:web:mobility.example:mobility",
    "assignee": "did:web:city.example:city",
    "target": "urn:asset:traffic-counts",
    "permission": [
        {
            "action": "use",
            "constraint": [
                {"leftOperand": "purpose", "operator": "isAnyOf",
                 "rightOperand": ["traffic-planning", "air-quality"]},
                {"leftOperand": "recipient", "operator": "eq",
                 "rightOperand": "did:web:city.example:city"},
                {"leftOperand": "dateTime", "operator": "gteq",
                 "rightOperand": {"@value": "2025-01-01T00:00:00Z", "@type": "xsd:dateTime"}},
                {"leftOperand": "dateTime", "operator": "lt",
                 "rightOperand": {"@value": "2030-01-01T00:00:00Z", "@type": "xsd:dateTime"}},
                {"leftOperand": "elapsedTime", "operator": "lteq", "rightOperand": "P365D"},
                {"leftOperand": "count", "operator": "lteq", "rightOperand": 1_000_000},
                {"leftOperand": "twinspace:membership", "operator": "eq", "rightOperand": "active"},
                {"leftOperand": "twinspace:country", "operator": "isAnyOf",
                 "rightOperand": ["DE", "FR", "NL"]},
                {"leftOperand": "twinspace:securityLevel", "operator": "gteq",
                 "rightOperand": "trust"},
                {"leftOperand": "twinspace:deploymentLocation", "operator": "isNoneOf",
                 "rightOperand": ["untrusted-zone"]},
            ],
            "duty": [{"action": "delete", "constraint": [
                {"leftOperand": "elapsedTime", "operator": "lteq", "rightOperand": "P30D"}]}],
        }
    ],
}  # fmt: skip

FACTS: dict[str, Any] = {
    "purpose": "traffic-planning",
    "recipient": "did:web:city.example:city",
    "dateTime": datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
    "elapsedTime": timedelta(days=12),
    "count": 41,
    "membership": "active",
    "country": "DE",
    "securityLevel": "trust+",
    "deploymentLocation": "edge-7",
}


def rate(decide: Callable[[Request], Decision], request: Request, count: int, repeat: int) -> float:
    """Best decisions/s over ``repeat`` rounds of ``count`` calls."""
    best = 0.0
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(count):
            decide(request)
        best = max(best, count / (time.perf_counter() - started))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=None, help="compiled decisions per round")
    parser.add_argument("--slow-count", type=int, default=None, help="interpreted per round")
    parser.add_argument("--repeat", type=int, default=5, help="rounds, best counts")
    parser.add_argument("--quick", action="store_true", help="100,000 and 2,000, 3 rounds")
    args = parser.parse_args()
    count = args.count or (100_000 if args.quick else 1_000_000)
    slow_count = args.slow_count or (2_000 if args.quick else 20_000)
    repeat = 3 if args.quick else args.repeat

    allowed = Request("read", "access", FACTS, assignee="did:web:city.example:city")
    denied = Request("read", "access", {**FACTS, "purpose": "marketing"})
    policy = parse_policy(AGREEMENT)
    compiled = compile_policy(policy)
    assert compiled.evaluate(allowed).allowed and evaluate(AGREEMENT, allowed).allowed
    assert not compiled.evaluate(denied).allowed
    assert compiled.evaluate(allowed).duties == evaluate(AGREEMENT, allowed).duties

    fast = rate(compiled.evaluate, allowed, count, repeat)
    slow = rate(lambda r: evaluate(AGREEMENT, r), allowed, slow_count, repeat)
    model = rate(lambda r: evaluate(policy, r), allowed, slow_count, repeat)
    denial = rate(compiled.evaluate, denied, slow_count, repeat)

    print(f"python {platform.python_version()} on {platform.machine()}, best of {repeat} rounds")
    print("10-constraint permission, allowed request (one delete duty carried):")
    print(f"  compiled (CompiledPolicy.evaluate):     {fast:12,.0f} decisions/s")
    print(f"  interpreted (evaluate(json, request)):  {slow:12,.0f} decisions/s")
    print(f"  ratio:                                  {fast / slow:12,.1f}")
    print(f"  walk of the parsed model (no parse):    {model:12,.0f} decisions/s")
    print(f"  denied request (compiled, explained):   {denial:12,.0f} decisions/s")
    verdict = "met" if fast >= TARGET else "NOT met"
    print(f"target {TARGET:,} compiled decisions/s: {verdict}")


if __name__ == "__main__":
    main()
