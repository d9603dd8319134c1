"""The numbers behind the monitors, on histograms only (no Django, no raw log).

Live data is counted into the reference's 100 percentile bins as it is logged; PSI uses
the 10 decile bins (every tenth edge), and KS is read off the two cumulative shares at the
99 edges: the largest gap between the CDFs on that grid, a lower bound of the exact KS
statistic that is within 1 % of it for continuous features.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

FINE_BINS = 100
PSI_BINS = 10
# Latency buckets in seconds: upper bounds; p99 is read as the bound of its bucket.
LATENCY_BOUNDS = (
    *(0.0005 * 1.25**i for i in range(40)),
    float("inf"),
)
EPSILON = 1e-4  # a bin empty on one side would make PSI infinite


def reference_profile(values: npt.NDArray[np.float64]) -> dict[str, list[float]]:
    """Edges at the 1st..99th reference percentiles, and the reference's share per bin."""
    present = values[~np.isnan(values)]
    edges = np.quantile(present, np.arange(1, FINE_BINS) / FINE_BINS)
    counts = bin_counts(present, edges)
    return {"edges": edges.tolist(), "shares": (counts / max(1, len(present))).tolist()}


def bin_counts(values: npt.NDArray[np.float64], edges: Sequence[float] | Any) -> Any:
    """Counts of `values` in the bins the edges make (right edge inclusive, as quantiles);
    missing values (NaN) are the data-quality monitor's, counted in no bin."""
    values = values[~np.isnan(values)]
    index = np.searchsorted(np.asarray(edges), values, side="left")
    return np.bincount(index, minlength=FINE_BINS)[:FINE_BINS]


def latency_counts(seconds: npt.NDArray[np.float64]) -> list[int]:
    index = np.searchsorted(np.asarray(LATENCY_BOUNDS), seconds, side="left")
    return [int(c) for c in np.bincount(index, minlength=len(LATENCY_BOUNDS))]


def add(total: Sequence[int], more: Sequence[int]) -> list[int]:
    if not total:
        return [int(c) for c in more]
    return [int(a) + int(b) for a, b in zip(total, more, strict=True)]


def psi(reference_shares: Sequence[float], live_counts: Sequence[int]) -> float:
    """Population stability index over the decile bins."""
    expected = _coarse(np.asarray(reference_shares, dtype=np.float64))
    live = _coarse(np.asarray(live_counts, dtype=np.float64))
    actual = live / max(1.0, live.sum())
    expected, actual = np.maximum(expected, EPSILON), np.maximum(actual, EPSILON)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def ks(
    reference_shares: Sequence[float], reference_rows: int, live_counts: Sequence[int]
) -> tuple[float, float]:
    """KS statistic on the percentile grid and its asymptotic two-sample p-value."""
    from scipy.special import kolmogorov

    live = np.asarray(live_counts, dtype=np.float64)
    live_rows = live.sum()
    if live_rows == 0 or reference_rows == 0:
        return 0.0, 1.0
    gap = np.abs(np.cumsum(reference_shares) - np.cumsum(live) / live_rows)
    statistic = float(gap.max())
    effective = reference_rows * live_rows / (reference_rows + live_rows)
    return statistic, float(kolmogorov(statistic * np.sqrt(effective)))


def p99_seconds(counts: Sequence[int]) -> float | None:
    total = sum(counts)
    if total == 0:
        return None
    index = int(np.searchsorted(np.cumsum(counts), 0.99 * total, side="left"))
    return float(LATENCY_BOUNDS[min(index, len(LATENCY_BOUNDS) - 2)])


def _coarse(fine: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    coarse: npt.NDArray[np.float64] = fine.reshape(PSI_BINS, FINE_BINS // PSI_BINS).sum(axis=1)
    return coarse


def category_psi(reference_shares: Sequence[float], live_counts: Sequence[int]) -> float:
    """PSI over a categorical column's bins (its reference values and "other")."""
    expected = np.asarray(reference_shares, dtype=np.float64)
    live = np.asarray(live_counts, dtype=np.float64)
    actual = live / max(1.0, live.sum())
    expected, actual = np.maximum(expected, EPSILON), np.maximum(actual, EPSILON)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def chi_square(
    reference_shares: Sequence[float], reference_rows: int, live_counts: Sequence[int]
) -> tuple[float, float]:
    """Chi-square test of homogeneity of the reference sample and the live one (a 2 x bins
    contingency table; bins empty in both are left out) and its p-value."""
    from scipy.stats import chi2

    reference = np.asarray(reference_shares, dtype=np.float64) * reference_rows
    live = np.asarray(live_counts, dtype=np.float64)
    table = np.vstack([reference, live])[:, (reference + live) > 0]
    if live.sum() == 0 or reference_rows == 0 or table.shape[1] < 2:
        return 0.0, 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, float(chi2.sf(statistic, table.shape[1] - 1))
