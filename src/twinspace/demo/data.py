"""The demo's datasets, generated (seeded, so every run writes the same bytes).

* traffic counts of the mobility operator: vehicles per 15 minutes at a few intersections over one
  weekday, with morning and evening peaks, a share of heavy vehicles and speeds that drop with load;
* air quality of the environment agency: hourly NO2, PM10, PM2.5 and O3 at a few stations, NO2
  following the traffic with a lag, ozone peaking in the afternoon sun.
"""

from __future__ import annotations

import csv
import math
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

DAY = datetime(2025, 3, 12, tzinfo=timezone(timedelta(hours=1)))  # a Wednesday, CET

#: id, name, latitude, longitude, peak vehicles per 15 minutes
INTERSECTIONS = [
    ("INT-001", "Harbour Road / Station Street", 51.9225, 4.4792, 420),
    ("INT-002", "Market Square / Church Lane", 51.9201, 4.4869, 260),
    ("INT-003", "Ring Road North / Canal Avenue", 51.9312, 4.4705, 610),
    ("INT-004", "University Boulevard / Park Lane", 51.9150, 4.4951, 330),
]

#: id, name, latitude, longitude, background NO2 in µg/m³
STATIONS = [
    ("AQ-CENTRE", "City Centre", 51.9210, 4.4830, 18.0),
    ("AQ-RING", "Ring Road North", 51.9305, 4.4712, 24.0),
    ("AQ-PARK", "Park Lane (urban background)", 51.9140, 4.4990, 11.0),
]


def traffic_load(hour: float) -> float:
    """Share of the peak traffic at a time of day (0..1): night trough, 08:00 and 17:30 peaks."""
    morning = math.exp(-(((hour - 8.0) / 1.3) ** 2))
    evening = 0.9 * math.exp(-(((hour - 17.5) / 1.8) ** 2))
    daytime = 0.45 * math.exp(-(((hour - 13.0) / 4.0) ** 2))
    return min(1.0, 0.04 + morning + evening + daytime)


def write_traffic_counts(path: Path, seed: int = 2025) -> Path:
    """Vehicle counts per 15 minutes at each intersection over one day (CSV)."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(
            [
                "dateObserved",
                "intersectionId",
                "intersectionName",
                "latitude",
                "longitude",
                "intensity",
                "heavyVehicles",
                "averageVehicleSpeed",
                "occupancy",
            ]
        )
        for step in range(24 * 4):
            moment = DAY + timedelta(minutes=15 * step)
            load = traffic_load(step / 4)
            for ident, name, lat, lon, peak in INTERSECTIONS:
                vehicles = max(0, round(peak * load * rng.gauss(1.0, 0.08)))
                heavy_share = 0.04 + 0.06 * math.exp(-(((step / 4 - 11.0) / 3.0) ** 2))
                heavy = min(vehicles, max(0, round(vehicles * heavy_share * rng.gauss(1, 0.2))))
                occupancy = min(0.95, vehicles / (peak * 1.25))
                speed = max(8.0, 48.0 * (1 - 0.75 * occupancy**2) + rng.gauss(0, 1.5))
                out.writerow(
                    [
                        moment.isoformat(),
                        ident,
                        name,
                        f"{lat:.4f}",
                        f"{lon:.4f}",
                        vehicles,
                        heavy,
                        f"{speed:.1f}",
                        f"{occupancy:.2f}",
                    ]
                )
    return path


def write_air_quality(path: Path, seed: int = 2026) -> Path:
    """Hourly concentrations (µg/m³) at each monitoring station over one day (CSV)."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(
            [
                "dateObserved",
                "stationId",
                "stationName",
                "latitude",
                "longitude",
                *("no2", "pm10", "pm25", "o3"),
            ]
        )
        for hour in range(24):
            moment = DAY + timedelta(hours=hour)
            lagged = traffic_load((hour - 1) % 24)
            sun = max(0.0, math.sin(math.pi * (hour - 6) / 14)) if 6 <= hour <= 20 else 0.0
            for ident, name, lat, lon, background in STATIONS:
                no2 = background + 32.0 * lagged * (background / 18.0) + rng.gauss(0, 2.0)
                pm10 = 14.0 + 9.0 * lagged + rng.gauss(0, 1.5)
                pm25 = 0.6 * pm10 + rng.gauss(0, 0.8)
                o3 = 22.0 + 48.0 * sun - 0.3 * no2 + rng.gauss(0, 2.5)
                out.writerow(
                    [moment.isoformat(), ident, name, f"{lat:.4f}", f"{lon:.4f}"]
                    + [f"{max(0.0, v):.1f}" for v in (no2, pm10, pm25, o3)]
                )
    return path
