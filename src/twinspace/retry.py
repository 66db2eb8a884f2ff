"""The one exponential backoff every retry loop uses (outbox, duties, log submissions,
credential enrolment)."""

from __future__ import annotations


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait before retry ``attempt`` (0 = the first retry): ``base * 2**attempt``,
    at most ``cap`` (the exponent is bounded, so any attempt count is safe)."""
    exponent: int = min(max(attempt, 0), 32)
    return min(cap, base * float(2**exponent))
