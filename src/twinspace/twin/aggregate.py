"""Temporal aggregation maths for the NGSI-LD aggregated temporal representation (CIM 009 §4.5.19).

Pure and exact: no I/O, no floating-point accumulation drift (integer sums stay integers, float
sums use :func:`math.fsum`).

Decisions where CIM 009 V1.9.1 is silent or loose (documented here, tested in
``tests/twin/test_aggregate.py``):

- ``aggrPeriodDuration`` is an ISO 8601 duration ``PnYnMnWnDTnHnMnS``. Days, weeks, hours, minutes
  and seconds are fixed widths (fractions allowed, microsecond precision); years and months are
  *calendar* steps (integers only): the k-th period starts at ``anchor + k months`` (day of month
  clamped to the target month's length, so 31 Jan + P1M is 28/29 Feb) plus ``k`` times the fixed
  part. :func:`parse_duration` (a plain ``timedelta``) rejects Y/M; :func:`parse_period` accepts them.
- Periods start at the time filter's start (``timeAt`` for after/between) or, when unbounded, at the
  first instance's time. Periods without any instance are omitted. The reported ``[from, to]`` of a
  period is the full period (not clipped to the query's end).
- No period or a zero period (``PT0S``) is one bucket over the whole range: from the filter's start
  (else the first instance) to the filter's end (else the last instance).
- Value classes (Table 4.5.19.1-1): numbers; booleans count as 1/0; JSON arrays contribute their
  size to the numeric methods; strings and ``{"@type": "DateTime", "@value": ...}`` values only to
  totalCount, distinctCount, min and max (lexicographic for strings, chronological for datetimes);
  other objects only to the two counts. min/max prefer the numeric class, then datetimes, then
  strings. A method with no applicable value in a period gives no entry for that period.
- ``stddev`` is the *population* standard deviation (divide by n; 0 for a single value).
- ``distinctCount`` compares JSON values: ``1``, ``1.0`` and ``true`` are three distinct values;
  objects compare by their canonical JSON (sorted keys).
"""

from __future__ import annotations

import calendar
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from twinspace.twin.errors import NgsiError

__all__ = [
    "AGGREGATION_METHODS",
    "Aggregation",
    "Period",
    "aggregate",
    "format_instant",
    "parse_aggregation",
    "parse_duration",
    "parse_period",
]

AGGREGATION_METHODS: tuple[str, ...] = (
    "totalCount",
    "distinctCount",
    "sum",
    "avg",
    "min",
    "max",
    "stddev",
    "sumsq",
)

_NUM = r"(\d+(?:[.,]\d+)?)"
_DURATION = re.compile(
    rf"P(?:(\d+)Y)?(?:(\d+)M)?(?:{_NUM}W)?(?:{_NUM}D)?"
    rf"(?:T(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?"
)
_MICROS = {
    "W": 604_800_000_000,
    "D": 86_400_000_000,
    "H": 3_600_000_000,
    "M": 60_000_000,
    "S": 1_000_000,
}


@dataclass(frozen=True, slots=True)
class Period:
    """An ISO 8601 duration split into calendar months and a fixed part."""

    months: int = 0
    fixed: timedelta = timedelta(0)

    @property
    def is_zero(self) -> bool:
        return self.months == 0 and not self.fixed

    def boundary(self, anchor: datetime, k: int) -> datetime:
        """The start of period number ``k`` counted from ``anchor`` (k = 0 is the anchor)."""
        moment = _add_months(anchor, k * self.months) if self.months else anchor
        return moment + self.fixed * k


@dataclass(frozen=True, slots=True)
class Aggregation:
    """Parsed ``aggrMethods`` (deduplicated, in request order) and ``aggrPeriodDuration``."""

    methods: tuple[str, ...]
    period: Period | None = None


def _add_months(moment: datetime, months: int) -> datetime:
    total = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(total, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def parse_period(text: str) -> Period:
    """Parse an ISO 8601 duration, keeping years/months as calendar steps.

    Raises ``NgsiError("BadRequestData")`` for anything that is not a non-negative duration with
    at least one component (``P``, ``PT``, ``1D``, ``P1H``, ``-P1D`` are all rejected).
    """
    match = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None or text.strip().endswith("T") or all(g is None for g in match.groups()):
        raise NgsiError("BadRequestData", f"Invalid ISO 8601 duration: {text!r}")
    years, months, *rest = match.groups()
    micros = Decimal(0)
    for group, unit in zip(rest, ("W", "D", "H", "M", "S"), strict=True):
        if group is not None:
            micros += Decimal(group.replace(",", ".")) * _MICROS[unit]
    calendar_months = int(years or 0) * 12 + int(months or 0)
    try:
        fixed = timedelta(microseconds=int(micros))
    except OverflowError:
        raise NgsiError("BadRequestData", f"Duration out of range: {text!r}") from None
    return Period(months=calendar_months, fixed=fixed)


def parse_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration of fixed length (W, D, H, M, S; no years or months)."""
    period = parse_period(text)
    if period.months:
        raise NgsiError(
            "BadRequestData",
            f"Duration {text!r} uses years or months, which have no fixed length",
        )
    return period.fixed


def parse_aggregation(methods: str | None, period: str | None = None) -> Aggregation:
    """Parse ``aggrMethods`` (comma list, required) and ``aggrPeriodDuration`` (optional)."""
    names = [m.strip() for m in (methods or "").split(",") if m.strip()]
    if not names:
        raise NgsiError("BadRequestData", "aggrMethods is required for aggregatedValues")
    unknown = [m for m in names if m not in AGGREGATION_METHODS]
    if unknown:
        raise NgsiError(
            "BadRequestData",
            f"Unknown aggregation method(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(AGGREGATION_METHODS)}",
        )
    parsed = parse_period(period) if period is not None and period.strip() else None
    return Aggregation(methods=tuple(dict.fromkeys(names)), period=parsed)


def format_instant(moment: datetime) -> str:
    """ISO 8601 UTC with ``Z``; fractional seconds only when present."""
    utc = moment.astimezone(UTC)
    if utc.microsecond:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def aggregate(
    points: Sequence[tuple[datetime, Any]],
    agg: Aggregation,
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict[str, list[list[Any]]]:
    """Aggregate ``(time, value)`` points into ``{method: [[value, from, to], ...]}``.

    Points outside ``[start, end)`` are ignored; all datetimes must be timezone-aware. Every
    requested method is a key of the result (an empty list when nothing applies).
    """
    result: dict[str, list[list[Any]]] = {m: [] for m in agg.methods}
    if start is not None or end is not None:
        points = [
            p for p in points if (start is None or p[0] >= start) and (end is None or p[0] < end)
        ]
    if not points:
        return result
    first = min(p[0] for p in points)
    anchor = start if start is not None else first
    period = agg.period
    buckets: list[tuple[datetime, datetime, list[Any]]]
    if period is None or period.is_zero:
        last = end if end is not None else max(p[0] for p in points)
        buckets = [(anchor, last, [p[1] for p in points])]
    elif period.months == 0:
        buckets = _fixed_buckets(points, anchor, period.fixed)
    else:
        buckets = _calendar_buckets(points, anchor, period)
    for lower, upper, values in buckets:
        lo, hi = format_instant(lower), format_instant(upper)
        for method, value in _summarise(values, agg.methods).items():
            result[method].append([value, lo, hi])
    return result


def _fixed_buckets(
    points: Iterable[tuple[datetime, Any]], anchor: datetime, width: timedelta
) -> list[tuple[datetime, datetime, list[Any]]]:
    groups: dict[int, list[Any]] = {}
    for moment, value in points:
        index = (moment - anchor) // width
        bucket = groups.get(index)
        if bucket is None:
            groups[index] = [value]
        else:
            bucket.append(value)
    return [(anchor + width * i, anchor + width * (i + 1), groups[i]) for i in sorted(groups)]


def _calendar_buckets(
    points: Sequence[tuple[datetime, Any]], anchor: datetime, period: Period
) -> list[tuple[datetime, datetime, list[Any]]]:
    ordered = sorted(points, key=lambda p: p[0])
    out: list[tuple[datetime, datetime, list[Any]]] = []
    k = 0
    lower, upper = anchor, period.boundary(anchor, 1)
    current: list[Any] = []
    for moment, value in ordered:
        if moment >= upper:
            if current:
                out.append((lower, upper, current))
                current = []
            while moment >= upper:
                k += 1
                lower, upper = upper, period.boundary(anchor, k + 1)
        current.append(value)
    if current:
        out.append((lower, upper, current))
    return out


def _distinct_key(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return (type(value), value)


def _as_datetime(value: Any) -> datetime | None:
    if value.get("@type") != "DateTime" or not isinstance(value.get("@value"), str):
        return None
    try:
        moment = datetime.fromisoformat(value["@value"])
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _summarise(values: list[Any], methods: tuple[str, ...]) -> dict[str, Any]:
    numbers: list[int | float] = []
    strings: list[str] = []
    dates: list[tuple[datetime, Any]] = []
    for value in values:
        kind = type(value)
        if kind is int or kind is float:
            numbers.append(value)
        elif kind is bool:
            numbers.append(1 if value else 0)
        elif kind is str:
            strings.append(value)
        elif kind is list:
            numbers.append(len(value))
        elif kind is dict:
            moment = _as_datetime(value)
            if moment is not None:
                dates.append((moment, value))
    out: dict[str, Any] = {}
    all_int = all(type(n) is int for n in numbers)
    for method in methods:
        if method == "totalCount":
            out[method] = len(values)
        elif method == "distinctCount":
            out[method] = len({_distinct_key(v) for v in values})
        elif method in ("min", "max"):
            pick = min if method == "min" else max
            if numbers:
                out[method] = pick(numbers)
            elif dates:
                out[method] = pick(dates, key=lambda d: d[0])[1]
            elif strings:
                out[method] = pick(strings)
        elif numbers:
            out[method] = _numeric(method, numbers, all_int)
    return out


def _numeric(method: str, numbers: list[int | float], all_int: bool) -> int | float:
    n = len(numbers)
    if method == "sum":
        return sum(numbers) if all_int else math.fsum(numbers)
    if method == "sumsq":
        return sum(x * x for x in numbers) if all_int else math.fsum(x * x for x in numbers)
    total = sum(numbers) if all_int else math.fsum(numbers)
    if method == "avg":
        return total / n
    # stddev (population)
    if all_int:
        # exact: n * sum(x^2) - (sum x)^2 over integers, one division at the end
        variance_num = n * sum(x * x for x in numbers) - total * total
        return math.sqrt(variance_num / (n * n))
    mean = total / n
    return math.sqrt(math.fsum((x - mean) ** 2 for x in numbers) / n)
