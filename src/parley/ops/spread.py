"""The median and p90 of a figure: one way of summing up many turns, for the monitor, the
alerts and the bench alike."""

from __future__ import annotations

import statistics


def spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p90": None, "n": 0}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    digits = 3 if ordered[-1] < 10 else 1  # real-time factors are small ratios
    return {
        "median": round(statistics.median(ordered), digits),
        "p90": round(p90, digits),
        "n": len(ordered),
    }
