"""Column profiles: categorical columns get reference categories plus "other", compared by
PSI and a chi-square test equal to the plain computations; data-quality counts; outputs as
columns."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2_contingency

from modelyard.monitoring import columns, stats


def test_few_whole_number_values_are_categorical_the_rest_numeric() -> None:
    generator = np.random.default_rng(3)
    codes = columns.profile(generator.integers(0, 4, 1000).astype(float), "int")
    flags = columns.profile(generator.integers(0, 2, 1000).astype(float), "double")
    ages = columns.profile(generator.integers(18, 90, 1000).astype(float), "int")
    amounts = columns.profile(generator.normal(size=1000), "double")

    assert codes["kind"] == flags["kind"] == "categorical"
    assert codes["categories"] == [0.0, 1.0, 2.0, 3.0]
    assert len(codes["shares"]) == 5  # and "other"
    assert codes["shares"][-1] == 0.0
    assert sum(codes["shares"]) == pytest.approx(1.0)
    assert ages["kind"] == amounts["kind"] == "numeric"  # more than 20 values
    assert len(amounts["edges"]) == stats.FINE_BINS - 1


def test_unseen_values_count_as_other_and_missing_values_in_no_bin() -> None:
    column = columns.profile(np.array([1.0, 2.0, 2.0, 5.0]), "int")
    live = np.array([2.0, 5.0, 7.0, 0.0, 2.5, np.nan])

    assert columns.live_counts(live, column).tolist() == [0, 1, 1, 3]


def test_categorical_psi_and_chi_square_equal_the_plain_computations() -> None:
    generator = np.random.default_rng(4)
    reference = generator.choice([0.0, 1.0, 2.0], 10_000, p=[0.5, 0.3, 0.2])
    live = generator.choice([0.0, 1.0, 2.0, 9.0], 2_000, p=[0.3, 0.3, 0.3, 0.1])
    column = columns.profile(reference, "int")
    compared = columns.compare(column, len(reference), columns.live_counts(live, column))

    expected = np.array([np.mean(reference == v) for v in (0, 1, 2)] + [0.0])
    actual = np.array([np.mean(live == v) for v in (0, 1, 2)] + [np.mean(live == 9)])
    e, a = np.maximum(expected, 1e-4), np.maximum(actual, 1e-4)
    table = np.vstack([expected * len(reference), actual * len(live)])
    statistic, p_value, _, _ = chi2_contingency(table, correction=False)

    assert compared["test"] == "chi2"
    assert compared["psi"] == pytest.approx(float(np.sum((a - e) * np.log(a / e))), rel=1e-12)
    assert compared["statistic"] == pytest.approx(statistic, rel=1e-9)
    assert compared["p_value"] == pytest.approx(p_value, abs=1e-12)
    assert compared["psi"] > 0.2


def test_the_same_categories_do_not_drift() -> None:
    generator = np.random.default_rng(5)
    reference = generator.choice([0.0, 1.0], 10_000, p=[0.7, 0.3])
    live = generator.choice([0.0, 1.0], 3_000, p=[0.7, 0.3])
    column = columns.profile(reference, "bool")
    compared = columns.compare(column, len(reference), columns.live_counts(live, column))

    assert compared["psi"] < 0.01
    assert compared["p_value"] > 0.01


def test_quality_counts_missing_mistyped_and_out_of_range_values() -> None:
    reference = np.arange(0, 100, dtype=float) + 0.5
    numeric = columns.profile(reference, "int")
    live = np.array([1.5, np.nan, np.nan, 150.0, -3.0, 7.0])

    # 1.5 is not a whole number, as an int column's values are; -3 and 150 are out of range
    assert columns.quality_counts(live, numeric) == [2, 1, 1, 1]
    flags = columns.profile(np.array([0.0, 1.0, 1.0]), "bool")
    # 2 and 0.5 are no booleans; 2 is above the reference's range too
    assert columns.quality_counts(np.array([0.0, 1.0, 2.0, 0.5]), flags) == [0, 2, 0, 1]


def test_outputs_become_one_column_each() -> None:
    outputs = {
        "label": np.array([0, 1]),
        "probability": np.array([[0.9, 0.1], [0.2, 0.8]]),
        "name": np.array(["a", "b"]),
    }

    found = columns.output_columns(outputs)

    assert sorted(found) == ["label", "probability[0]", "probability[1]"]
    assert found["probability[1]"].tolist() == [0.1, 0.8]
