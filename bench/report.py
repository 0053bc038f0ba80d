"""The closing lines every benchmark prints: medians of both sides and their ratio to the goal."""

from __future__ import annotations

import statistics


def report(
    baseline: str, baseline_rates: list[float], ours: str, our_rates: list[float], goal: float
) -> None:
    """Print the median of the baseline and of ours, and our ratio to the baseline."""
    base, mine = statistics.median(baseline_rates), statistics.median(our_rates)
    ratio = mine / base
    print(f"{baseline + ', median:':<60}{base:8.0f} /s")
    print(f"{ours + ', median:':<60}{mine:8.0f} /s")
    print(f"ratio: {ratio:.2f} (goal >= {goal}) {'OK' if ratio >= goal else 'BELOW GOAL'}")
