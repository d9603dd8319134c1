"""The drift numbers on histograms equal the plain computations on raw values."""

from __future__ import annotations

import numpy as np
from scipy.stats import ks_2samp

from modelyard.monitoring import stats


def plain_psi(reference: np.ndarray, live: np.ndarray) -> float:
    edges = np.quantile(reference, np.arange(1, 10) / 10)
    expected = np.bincount(np.searchsorted(edges, reference), minlength=10) / len(reference)
    actual = np.bincount(np.searchsorted(edges, live), minlength=10) / len(live)
    expected, actual = np.maximum(expected, 1e-4), np.maximum(actual, 1e-4)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def test_psi_on_the_fine_bins_equals_a_plain_psi_on_reference_deciles() -> None:
    generator = np.random.default_rng(1)
    reference, live = generator.normal(0, 1, 20_000), generator.normal(0.5, 1.2, 5_000)
    profile = stats.reference_profile(reference)
    counts = stats.bin_counts(live, profile["edges"])

    assert stats.psi(profile["shares"], counts) == np.float64(plain_psi(reference, live))
    assert stats.psi(profile["shares"], counts) > 0.2


def test_ks_on_the_percentile_grid_is_close_to_the_exact_test() -> None:
    generator = np.random.default_rng(2)
    reference, live = generator.normal(0, 1, 20_000), generator.normal(0.1, 1, 5_000)
    profile = stats.reference_profile(reference)
    statistic, pvalue = stats.ks(
        profile["shares"], len(reference), stats.bin_counts(live, profile["edges"])
    )
    exact = ks_2samp(reference, live)

    assert abs(statistic - exact.statistic) < 0.01
    assert pvalue < 0.01
    assert exact.pvalue < 0.01


def test_the_same_distribution_does_not_drift() -> None:
    generator = np.random.default_rng(3)
    reference, live = generator.normal(0, 1, 20_000), generator.normal(0, 1, 5_000)
    profile = stats.reference_profile(reference)
    counts = stats.bin_counts(live, profile["edges"])

    assert stats.psi(profile["shares"], counts) < 0.02
    assert stats.ks(profile["shares"], len(reference), counts)[1] > 0.01


def test_p99_is_the_bound_of_the_bucket_holding_the_99th_percentile() -> None:
    seconds = np.array([0.001] * 98 + [0.2, 0.2])
    p99 = stats.p99_seconds(stats.latency_counts(seconds))

    assert p99 is not None
    assert 0.2 <= p99 < 0.2 * 1.25
    assert stats.p99_seconds([0] * len(stats.LATENCY_BOUNDS)) is None
