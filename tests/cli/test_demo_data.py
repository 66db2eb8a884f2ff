"""The demo's generated datasets: the same bytes every run, and plausible figures."""

from __future__ import annotations

import csv
from pathlib import Path

from twinspace.demo.data import INTERSECTIONS, STATIONS, write_air_quality, write_traffic_counts


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_traffic_counts_are_deterministic(tmp_path: Path) -> None:
    a = write_traffic_counts(tmp_path / "a.csv").read_bytes()
    b = write_traffic_counts(tmp_path / "b.csv").read_bytes()
    assert a == b
    assert write_traffic_counts(tmp_path / "c.csv", seed=1).read_bytes() != a


def test_traffic_counts_have_a_day_of_peaks(tmp_path: Path) -> None:
    data = rows(write_traffic_counts(tmp_path / "t.csv"))
    assert len(data) == 24 * 4 * len(INTERSECTIONS)
    per_hour: dict[int, int] = {}
    for row in data:
        hour = int(row["dateObserved"][11:13])
        per_hour[hour] = per_hour.get(hour, 0) + int(row["intensity"])
        assert 0 <= int(row["heavyVehicles"]) <= int(row["intensity"])
        assert 8.0 <= float(row["averageVehicleSpeed"]) <= 60.0
    assert per_hour[8] > 5 * per_hour[3]  # morning rush against the night
    assert per_hour[17] > 5 * per_hour[3]


def test_air_quality(tmp_path: Path) -> None:
    path = write_air_quality(tmp_path / "aq.csv")
    assert path.read_bytes() == write_air_quality(tmp_path / "again.csv").read_bytes()
    data = rows(path)
    assert len(data) == 24 * len(STATIONS)
    for row in data:
        for pollutant in ("no2", "pm10", "pm25", "o3"):
            assert 0.0 <= float(row[pollutant]) < 200.0
