"""Aggregation maths of the NGSI-LD aggregated temporal representation (CIM 009 §4.5.19)."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from twinspace.twin.aggregate import (
    AGGREGATION_METHODS,
    Aggregation,
    Period,
    aggregate,
    format_instant,
    parse_aggregation,
    parse_duration,
    parse_period,
)
from twinspace.twin.errors import NgsiError

T0 = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def agg(methods: str, period: str | None = None) -> Aggregation:
    return parse_aggregation(methods, period)


# --- durations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT0S", timedelta(0)),
        ("P0D", timedelta(0)),
        ("PT1H", timedelta(hours=1)),
        ("PT4M", timedelta(minutes=4)),
        ("P1D", timedelta(days=1)),
        ("P1W", timedelta(weeks=1)),
        ("P2W3D", timedelta(days=17)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("PT1H30M15S", timedelta(hours=1, minutes=30, seconds=15)),
        ("PT0.5S", timedelta(milliseconds=500)),
        ("PT1,25S", timedelta(seconds=1.25)),
        ("PT0.000001S", timedelta(microseconds=1)),
        ("PT1.5H", timedelta(minutes=90)),
        ("P0.5D", timedelta(hours=12)),
        ("PT36H", timedelta(hours=36)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "P",
        "PT",
        "P1DT",
        "1D",
        "P1H",
        "PT1D",
        "-P1D",
        "P-1D",
        "P1S",
        "PT1X",
        "P1D2H",
        "banana",
        "P1.5Y",
    ],
)
def test_parse_duration_rejects_malformed(text: str) -> None:
    with pytest.raises(NgsiError) as caught:
        parse_duration(text)
    assert caught.value.kind == "BadRequestData"


@pytest.mark.parametrize("text", ["P1Y", "P1M", "P1Y2M", "P1MT1H"])
def test_parse_duration_rejects_calendar_units(text: str) -> None:
    with pytest.raises(NgsiError, match="years or months"):
        parse_duration(text)


def test_parse_period_keeps_calendar_months() -> None:
    assert parse_period("P1Y2M3DT4H") == Period(months=14, fixed=timedelta(days=3, hours=4))
    assert parse_period("P1M") == Period(months=1)
    assert parse_period("PT1M") == Period(fixed=timedelta(minutes=1))
    assert parse_period("PT0S").is_zero
    assert not parse_period("P1M").is_zero


def test_period_boundary_clamps_day_of_month() -> None:
    jan31 = datetime(2026, 1, 31, 10, tzinfo=UTC)
    month = Period(months=1)
    assert month.boundary(jan31, 1) == datetime(2026, 2, 28, 10, tzinfo=UTC)
    assert month.boundary(jan31, 2) == datetime(2026, 3, 31, 10, tzinfo=UTC)
    assert month.boundary(jan31, 13) == datetime(2027, 2, 28, 10, tzinfo=UTC)
    leap = datetime(2028, 1, 31, tzinfo=UTC)
    assert month.boundary(leap, 1) == datetime(2028, 2, 29, tzinfo=UTC)
    mixed = Period(months=1, fixed=timedelta(days=1))
    assert mixed.boundary(datetime(2026, 1, 1, tzinfo=UTC), 2) == datetime(2026, 3, 3, tzinfo=UTC)


# --- aggrMethods ---------------------------------------------------------------------------


def test_parse_aggregation() -> None:
    parsed = parse_aggregation(" max, avg,max ", "PT1H")
    assert parsed.methods == ("max", "avg")
    assert parsed.period == Period(fixed=timedelta(hours=1))
    assert parse_aggregation(",".join(AGGREGATION_METHODS), None).methods == AGGREGATION_METHODS
    assert parse_aggregation("sum", "").period is None


@pytest.mark.parametrize("methods", [None, "", " , "])
def test_parse_aggregation_requires_methods(methods: str | None) -> None:
    with pytest.raises(NgsiError, match="aggrMethods is required") as caught:
        parse_aggregation(methods, None)
    assert caught.value.kind == "BadRequestData"


def test_parse_aggregation_rejects_unknown_methods() -> None:
    with pytest.raises(NgsiError, match=r"Unknown aggregation method\(s\) median, count"):
        parse_aggregation("avg,median,count", None)


def test_parse_aggregation_rejects_bad_period() -> None:
    with pytest.raises(NgsiError, match="Invalid ISO 8601 duration"):
        parse_aggregation("avg", "1H")


# --- buckets -------------------------------------------------------------------------------


def test_format_instant() -> None:
    assert format_instant(T0) == "2026-08-01T12:00:00Z"
    assert format_instant(T0 + timedelta(microseconds=1500)) == "2026-08-01T12:00:00.001500Z"
    cet = datetime(2026, 8, 1, 14, 0, tzinfo=UTC).astimezone()
    assert format_instant(cet) == "2026-08-01T14:00:00Z"


def test_empty_input_gives_every_method_empty() -> None:
    assert aggregate([], agg("avg,max", "PT1H")) == {"avg": [], "max": []}
    assert aggregate([], agg("totalCount")) == {"totalCount": []}


def test_spec_example_periods_of_four_minutes() -> None:
    # CIM 009 annex C.5.14: max and avg of speed between 12:00 and 13:00 by periods of PT4M
    points = [(at(1), 120), (at(3), 120), (at(5), 100), (at(6), 80)]
    result = aggregate(points, agg("max,avg", "PT4M"), at(0), at(60))
    assert result == {
        "max": [
            [120, "2026-08-01T12:00:00Z", "2026-08-01T12:04:00Z"],
            [100, "2026-08-01T12:04:00Z", "2026-08-01T12:08:00Z"],
        ],
        "avg": [
            [120.0, "2026-08-01T12:00:00Z", "2026-08-01T12:04:00Z"],
            [90.0, "2026-08-01T12:04:00Z", "2026-08-01T12:08:00Z"],
        ],
    }


def test_bucket_edges_are_start_inclusive_end_exclusive() -> None:
    points = [(at(0), 1), (at(3.999), 2), (at(4), 3), (at(8), 4)]
    result = aggregate(points, agg("sum", "PT4M"), at(0), None)
    assert [row[0] for row in result["sum"]] == [3, 3, 4]
    assert [row[1] for row in result["sum"]] == [
        "2026-08-01T12:00:00Z",
        "2026-08-01T12:04:00Z",
        "2026-08-01T12:08:00Z",
    ]


def test_periods_without_data_are_omitted() -> None:
    points = [(at(1), 1), (at(30), 2)]
    result = aggregate(points, agg("totalCount", "PT10M"), at(0), at(60))
    assert result["totalCount"] == [
        [1, "2026-08-01T12:00:00Z", "2026-08-01T12:10:00Z"],
        [1, "2026-08-01T12:30:00Z", "2026-08-01T12:40:00Z"],
    ]


def test_periods_start_at_first_point_without_start() -> None:
    points = [(at(7), 1), (at(16), 2), (at(18), 3)]
    result = aggregate(points, agg("sum", "PT10M"))
    # 12:16 falls in [12:07, 12:17) with 12:07; 12:18 opens the next period
    assert result["sum"] == [
        [3, "2026-08-01T12:07:00Z", "2026-08-01T12:17:00Z"],
        [3, "2026-08-01T12:17:00Z", "2026-08-01T12:27:00Z"],
    ]


def test_last_period_is_not_clipped_to_end() -> None:
    result = aggregate([(at(59), 5)], agg("max", "PT1H"), at(30), at(60))
    assert result["max"] == [[5, "2026-08-01T12:30:00Z", "2026-08-01T13:30:00Z"]]


def test_points_outside_range_are_ignored() -> None:
    points = [(at(-1), 100), (at(0), 1), (at(59), 2), (at(60), 100)]
    result = aggregate(points, agg("sum,totalCount"), at(0), at(60))
    assert result["sum"] == [[3, "2026-08-01T12:00:00Z", "2026-08-01T13:00:00Z"]]
    assert result["totalCount"][0][0] == 2


@pytest.mark.parametrize("period", [None, "PT0S"])
def test_whole_range_bucket(period: str | None) -> None:
    points = [(at(5), 1), (at(10), 2)]
    bounded = aggregate(points, agg("sum", period), at(0), at(60))
    assert bounded["sum"] == [[3, "2026-08-01T12:00:00Z", "2026-08-01T13:00:00Z"]]
    open_ended = aggregate(points, agg("sum", period))
    assert open_ended["sum"] == [[3, "2026-08-01T12:05:00Z", "2026-08-01T12:10:00Z"]]
    before = aggregate(points, agg("sum", period), None, at(30))
    assert before["sum"] == [[3, "2026-08-01T12:05:00Z", "2026-08-01T12:30:00Z"]]
    after = aggregate(points, agg("sum", period), at(1), None)
    assert after["sum"] == [[3, "2026-08-01T12:01:00Z", "2026-08-01T12:10:00Z"]]


def test_unsorted_points() -> None:
    points = [(at(20), 3), (at(1), 1), (at(12), 2)]
    result = aggregate(points, agg("sum", "PT10M"), at(0), None)
    assert [row[0] for row in result["sum"]] == [1, 2, 3]
    result = aggregate(points, agg("min,max"))
    assert result["min"] == [[1, "2026-08-01T12:01:00Z", "2026-08-01T12:20:00Z"]]
    assert result["max"][0][0] == 3


def test_calendar_month_periods() -> None:
    start = datetime(2026, 1, 31, tzinfo=UTC)
    points = [
        (datetime(2026, 2, 27, tzinfo=UTC), 1),
        (datetime(2026, 2, 28, tzinfo=UTC), 2),  # first day of the second period
        (datetime(2026, 5, 1, tzinfo=UTC), 4),
    ]
    result = aggregate(points, agg("sum", "P1M"), start, None)
    assert result["sum"] == [
        [1, "2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z"],
        [2, "2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z"],
        [4, "2026-04-30T00:00:00Z", "2026-05-31T00:00:00Z"],
    ]


# --- methods -------------------------------------------------------------------------------


def one(values: list[Any], methods: str) -> dict[str, Any]:
    points = [(at(i), v) for i, v in enumerate(values)]
    result = aggregate(points, agg(methods), at(0), at(100))
    return {m: (rows[0][0] if rows else None) for m, rows in result.items()}


def test_each_numeric_method() -> None:
    values = [2, 4, 4, 4, 5, 5, 7, 9]
    result = one(values, ",".join(AGGREGATION_METHODS))
    assert result == {
        "totalCount": 8,
        "distinctCount": 5,
        "sum": 40,
        "avg": 5.0,
        "min": 2,
        "max": 9,
        "stddev": 2.0,  # population standard deviation
        "sumsq": 232,
    }
    assert result["stddev"] == statistics.pstdev(values)


def test_float_methods_are_exact() -> None:
    values = [0.1] * 10
    result = one(values, "sum,avg,sumsq,stddev")
    assert result["sum"] == 1.0
    assert result["avg"] == pytest.approx(0.1, abs=0)
    assert result["sumsq"] == math.fsum([0.01000000000000000208] * 10)
    assert result["stddev"] == 0.0


def test_stddev_of_a_single_value_is_zero() -> None:
    assert one([42], "stddev") == {"stddev": 0.0}
    assert one([1.5, 2.5], "stddev") == {"stddev": 0.5}


def test_integers_stay_integers() -> None:
    result = one([10**18, 1, -1], "sum,sumsq,min")
    assert result["sum"] == 10**18
    assert result["sumsq"] == 10**36 + 2
    assert isinstance(result["sum"], int)


def test_booleans_count_as_one_and_zero() -> None:
    result = one([True, False, True, True], "sum,avg,min,max,distinctCount")
    assert result == {"sum": 3, "avg": 0.75, "min": 0, "max": 1, "distinctCount": 2}


def test_strings_only_count_and_compare() -> None:
    result = one(["b", "a", "c", "a"], ",".join(AGGREGATION_METHODS))
    assert result == {
        "totalCount": 4,
        "distinctCount": 3,
        "sum": None,
        "avg": None,
        "min": "a",
        "max": "c",
        "stddev": None,
        "sumsq": None,
    }


def test_numbers_win_over_strings_for_min_max() -> None:
    result = one(["zzz", 3, 1], "min,max,avg,totalCount")
    assert result == {"min": 1, "max": 3, "avg": 2.0, "totalCount": 3}


def test_datetime_values_compare_chronologically() -> None:
    late = {"@type": "DateTime", "@value": "2026-08-01T13:00:00+02:00"}  # 11:00Z
    early = {"@type": "DateTime", "@value": "2026-08-01T11:30:00Z"}
    result = one([early, late], "min,max,distinctCount,avg")
    assert result == {"min": late, "max": early, "distinctCount": 2, "avg": None}


def test_arrays_contribute_their_size() -> None:
    result = one([[1, 2], [3], [4, 5, 6]], "sum,max,avg,distinctCount")
    assert result == {"sum": 6, "max": 3, "avg": 2.0, "distinctCount": 3}


def test_objects_only_count() -> None:
    a = {"x": 1, "y": 2}
    same = {"y": 2, "x": 1}
    result = one([a, same, {"x": 2}], "totalCount,distinctCount,sum,min")
    assert result == {"totalCount": 3, "distinctCount": 2, "sum": None, "min": None}


def test_distinct_count_uses_json_equality() -> None:
    assert one([1, 1.0, True, "1", None, None], "distinctCount") == {"distinctCount": 5}


def test_non_numeric_rows_skip_numeric_methods_per_bucket() -> None:
    points = [(at(1), "x"), (at(11), 5)]
    result = aggregate(points, agg("avg,totalCount", "PT10M"), at(0), None)
    assert result["avg"] == [[5.0, "2026-08-01T12:10:00Z", "2026-08-01T12:20:00Z"]]
    assert len(result["totalCount"]) == 2


def test_hundred_thousand_points_match_reference() -> None:
    points = [(T0 + timedelta(seconds=36 * i), (i * 7919) % 1000 / 10) for i in range(100_000)]
    result = aggregate(points, agg("avg,max,totalCount", "PT1H"), T0, None)
    assert len(result["avg"]) == 1000
    assert all(row[0] == 100 for row in result["totalCount"])
    first = [v for _, v in points[:100]]
    assert result["avg"][0][0] == pytest.approx(statistics.fmean(first), rel=1e-15)
    assert result["max"][0][0] == max(first)
    assert result["avg"][-1][1:] == ["2026-09-12T03:00:00Z", "2026-09-12T04:00:00Z"]  # T0 + 999 h
