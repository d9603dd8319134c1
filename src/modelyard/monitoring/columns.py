"""One column of a reference profile, and what is counted of live data against it (no Django).

A column is profiled once, from the reference data, as either
- **numeric**: 100 reference-percentile bins (stats.py), compared by PSI over the deciles
  and a KS test; or
- **categorical**: its reference values (at most MAX_CATEGORIES of them, all whole
  numbers: booleans, codes, counts) plus an "other" bin for values the reference never
  had, compared by PSI over those bins and a chi-square test of the two samples.

The same profile gives the data-quality monitor its facts: the reference's range, and the
type the signature declares. Inputs and outputs (prediction drift) are profiled alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from modelyard.monitoring import stats

MAX_CATEGORIES = 20
INTEGER_TYPES = frozenset({"long", "integer", "int", "int32", "int64"})
BOOLEAN_TYPES = frozenset({"boolean", "bool"})
# Per column and window: [missing, not of the declared type, below the reference's minimum,
# above its maximum].
QUALITY_FIELDS = ("missing", "wrong_type", "below_range", "above_range")

Column = dict[str, Any]


def profile(values: npt.NDArray[np.float64], declared_type: str = "double") -> Column:
    """The column's reference profile: categorical when few whole-number values, else numeric."""
    present = values[~np.isnan(values)]
    if not len(present):
        raise ValueError("the reference holds no value of it")
    bounds = {"min": float(present.min()), "max": float(present.max()), "type": declared_type}
    categories = np.unique(present)
    whole = bool(np.all(np.isfinite(categories)) and np.all(categories == np.round(categories)))
    if len(categories) <= MAX_CATEGORIES and whole:
        counts = category_counts(present, categories.tolist())
        shares = counts / len(present)
        return {
            "kind": "categorical",
            "categories": categories.tolist(),
            "shares": shares.tolist(),
            "type": declared_type,
        }
    return {"kind": "numeric", **stats.reference_profile(present), **bounds}


def is_categorical(column: Column) -> bool:
    return column.get("kind") == "categorical"


def live_counts(values: npt.NDArray[np.float64], column: Column) -> Any:
    """Counts of live values in the column's bins (missing values in none)."""
    if is_categorical(column):
        return category_counts(values[~np.isnan(values)], column["categories"])
    return stats.bin_counts(values, column["edges"])


def category_counts(values: npt.NDArray[np.float64], categories: Sequence[float]) -> Any:
    """Counts per reference category, then the count of the others (the last bin)."""
    known = np.asarray(categories, dtype=np.float64)
    index = np.searchsorted(known, values)
    inside = index < len(known)
    matched = np.zeros(len(values), dtype=bool)
    matched[inside] = known[index[inside]] == values[inside]
    index[~matched] = len(known)
    return np.bincount(index, minlength=len(known) + 1)


def quality_counts(values: npt.NDArray[np.float64], column: Column) -> list[int]:
    """[missing, wrong type, below range, above range] among live values."""
    missing = np.isnan(values)
    present = values[~missing]
    declared = column.get("type", "double")
    if declared in BOOLEAN_TYPES:
        wrong = np.count_nonzero((present != 0) & (present != 1))
    elif declared in INTEGER_TYPES:
        wrong = np.count_nonzero(present != np.round(present))
    else:
        wrong = np.count_nonzero(np.isinf(present))
    low, high = _range(column)
    below = np.count_nonzero(present < low)
    above = np.count_nonzero(present > high)
    return [int(np.count_nonzero(missing)), int(wrong), int(below), int(above)]


def _range(column: Column) -> tuple[float, float]:
    if is_categorical(column):
        return column["categories"][0], column["categories"][-1]
    return column.get("min", -np.inf), column.get("max", np.inf)


def compare(column: Column, reference_rows: int, counts: Sequence[int]) -> dict[str, Any]:
    """PSI and the two-sample test of one column's live counts against its reference."""
    shares = column["shares"]
    if is_categorical(column):
        psi = stats.category_psi(shares, counts)
        statistic, p_value = stats.chi_square(shares, reference_rows, counts)
        return {"psi": psi, "test": "chi2", "statistic": statistic, "p_value": p_value}
    statistic, p_value = stats.ks(shares, reference_rows, counts)
    return {
        "psi": stats.psi(shares, counts),
        "test": "ks",
        "statistic": statistic,
        "p_value": p_value,
    }


MAX_OUTPUT_COLUMNS = 10


def output_columns(outputs: dict[str, Any]) -> dict[str, npt.NDArray[np.float64]]:
    """A prediction's numeric outputs as columns: `NAME` for one value per row, `NAME[j]`
    for the j-th of several (class probabilities); non-numeric outputs are left out."""
    columns: dict[str, npt.NDArray[np.float64]] = {}
    for name, given in outputs.items():
        try:
            array = np.asarray(given, dtype=np.float64)
        except (TypeError, ValueError):  # string labels: not profiled
            continue
        if array.ndim == 1:
            columns[name] = array
        elif array.ndim == 2:
            for j in range(min(array.shape[1], MAX_OUTPUT_COLUMNS)):
                columns[f"{name}[{j}]"] = array[:, j]
    return columns


def add_counts(
    counts: dict[str, list[int]],
    profiled: dict[str, Column],
    values: dict[str, Any],
    quality: bool = False,
) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """`counts` plus the bin counts of each profiled column's values (and, when asked, the
    columns' data-quality counts of them)."""
    added, checked = dict(counts), {}
    for name, column in profiled.items():
        if name not in values:
            continue
        live = live_counts(values[name], column).tolist()
        added[name] = stats.add(added.get(name, []), live)
        if quality:
            checked[name] = quality_counts(values[name], column)
    return added, checked
