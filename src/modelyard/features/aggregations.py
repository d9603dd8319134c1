"""The one definition of every aggregation, and of which events a window covers.

Both the online store (tiles of partial aggregates, features/online.py) and the training-set
builder (raw events, features/offline.py) fold events with these classes, so the two can
only differ if the events differ. Every partial state is exact and independent of the
order events arrive in: sums keep Shewchuk's non-overlapping partials (the algorithm behind
`math.fsum`), `last` breaks ties on equal times by the larger value, distinct counts keep
the set. That is what lets a tile-merged online value equal, bit for bit, the value folded
from the raw log.

Windows: the value of a feature at time T covers events with `start <= time < end`, where
`end` is T rounded down to the whole minute (RESOLUTION) and `start = end - window`
(lifetime: no start). Features are therefore as of the last whole minute, and never see an
event later than T. Tiles come in the sizes of TILE_SECONDS, aligned on the epoch, so any
window that is a whole number of minutes is an exact union of a few tiles.

Django-free: states are plain JSON values, stored as they are.
"""

from __future__ import annotations

import abc
import math
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

RESOLUTION = 60  # seconds; windows are whole multiples of it
# Largest first; each a multiple of the next, so greedy covering works.
TILE_SECONDS = (32 * 86400, 86400, 3600, 60)
MICROS = 1_000_000

State = Any
Value = Any


class Aggregation(abc.ABC):
    """A mergeable fold: `add` an event's value, `merge` two states, `finish` the feature.

    `add` and `merge` return the new state (states may be shared: never mutate one in place).
    Both are commutative and associative exactly, not just up to rounding.
    """

    name: str
    needs_column = True

    @abc.abstractmethod
    def empty(self) -> State: ...

    @abc.abstractmethod
    def add(self, state: State, value: Value, time_us: int) -> State: ...

    @abc.abstractmethod
    def merge(self, left: State, right: State) -> State: ...

    @abc.abstractmethod
    def finish(self, state: State) -> Value: ...


def _add_exact(partials: list[float], value: float) -> list[float]:
    """Shewchuk's algorithm: partials whose exact sum is the exact sum of all values added."""
    result: list[float] = []
    x = float(value)
    for y in partials:
        if abs(x) < abs(y):
            x, y = y, x
        high = x + y
        low = y - (high - x)
        if low:
            result.append(low)
        x = high
    result.append(x)
    return result


def exact_partials(values: list[float]) -> list[float]:
    """Partials whose exact sum is the exact sum of `values`, as `_add_exact` folds give, in
    a few calls of `math.fsum` (C) instead of a Python step per value: the batch path of
    the online store (features/tiling.py). Each round takes the correctly rounded sum of
    what is left and adds its negation to the list, so what is left shrinks by 53 bits a
    round and is exactly zero after two or three (fsum is 0 only when the exact sum is)."""
    rest = [float(value) for value in values]
    partials: list[float] = []
    try:
        while (total := math.fsum(rest)) != 0.0:
            partials.append(total)
            rest.append(-total)
    except OverflowError:  # a sum beyond the float range: the fold keeps what it can
        return fold_exact(values)
    return partials


def fold_exact(values: list[float]) -> list[float]:
    partials: list[float] = []
    for value in values:
        partials = _add_exact(partials, value)
    return partials


def _merge_exact(left: list[float], right: list[float]) -> list[float]:
    for value in right:
        left = _add_exact(left, value)
    return left


class Count(Aggregation):
    name = "count"
    needs_column = False

    def empty(self) -> int:
        return 0

    def add(self, state: int, value: Value, time_us: int) -> int:
        return state + 1

    def merge(self, left: int, right: int) -> int:
        return left + right

    def finish(self, state: int) -> int:
        return state


class Sum(Aggregation):
    name = "sum"

    def empty(self) -> list[float]:
        return []

    def add(self, state: list[float], value: Value, time_us: int) -> list[float]:
        return _add_exact(state, value)

    def merge(self, left: list[float], right: list[float]) -> list[float]:
        return _merge_exact(left, right)

    def finish(self, state: list[float]) -> float:
        return math.fsum(state)


class Mean(Aggregation):
    name = "mean"

    def empty(self) -> list[Any]:
        return [0, []]

    def add(self, state: list[Any], value: Value, time_us: int) -> list[Any]:
        return [state[0] + 1, _add_exact(state[1], value)]

    def merge(self, left: list[Any], right: list[Any]) -> list[Any]:
        return [left[0] + right[0], _merge_exact(left[1], right[1])]

    def finish(self, state: list[Any]) -> float | None:
        return math.fsum(state[1]) / state[0] if state[0] else None


class _Extreme(Aggregation):
    @abc.abstractmethod
    def pick(self, left: Value, right: Value) -> Value: ...

    def empty(self) -> None:
        return None

    def add(self, state: Value, value: Value, time_us: int) -> Value:
        return value if state is None else self.pick(state, value)

    def merge(self, left: Value, right: Value) -> Value:
        return right if left is None else self.add(left, right, 0)

    def finish(self, state: Value) -> Value:
        return state


class Min(_Extreme):
    name = "min"

    def pick(self, left: Value, right: Value) -> Value:
        return min(left, right)


class Max(_Extreme):
    name = "max"

    def pick(self, left: Value, right: Value) -> Value:
        return max(left, right)


class Last(Aggregation):
    """The value of the latest event; on a tie in time, the larger value (order-free)."""

    name = "last"

    def empty(self) -> None:
        return None

    def add(self, state: list[Any] | None, value: Value, time_us: int) -> list[Any] | None:
        return self.merge(state, [time_us, value])

    def merge(self, left: list[Any] | None, right: list[Any] | None) -> list[Any] | None:
        if left is None or right is None:
            return right if left is None else left
        return max(left, right, key=lambda pair: (pair[0], pair[1]))

    def finish(self, state: list[Any] | None) -> Value:
        return None if state is None else state[1]


class DistinctCount(Aggregation):
    name = "distinct_count"

    def empty(self) -> list[Any]:
        return []

    def add(self, state: list[Any], value: Value, time_us: int) -> list[Any]:
        return state if value in state else sorted([*state, value])

    def merge(self, left: list[Any], right: list[Any]) -> list[Any]:
        return sorted(set(left) | set(right))

    def finish(self, state: list[Any]) -> int:
        return len(state)


AGGREGATIONS: dict[str, Aggregation] = {
    aggregation.name: aggregation
    for aggregation in (Count(), Sum(), Mean(), Min(), Max(), Last(), DistinctCount())
}

COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}


@dataclass(frozen=True)
class RowFilter:
    """`column op literal`: which events a view aggregates at all."""

    column: str
    op: str
    literal: Any

    def passes(self, row: dict[str, Any]) -> bool:
        return bool(COMPARISONS[self.op](row[self.column], self.literal))


@dataclass(frozen=True)
class Feature:
    """One aggregate of a view, or a ratio of two of its aggregates (`ratio` set)."""

    name: str
    aggregation: str = ""
    column: str = ""
    window_seconds: int | None = None  # None: lifetime
    ratio: tuple[str, str] | None = None


@dataclass(frozen=True)
class ViewDefinition:
    """What the aggregation code needs of a view: its keys, time column, filter, features."""

    keys: tuple[str, ...]
    time_column: str
    features: tuple[Feature, ...]
    row_filter: RowFilter | None = None

    @property
    def aggregates(self) -> tuple[Feature, ...]:
        return tuple(feature for feature in self.features if feature.ratio is None)

    @property
    def states(self) -> dict[str, Feature]:
        """The partial states a tile keeps, by name, each with a feature that uses it."""
        return {state_name(feature): feature for feature in self.aggregates}

    def windows(self) -> list[int | None]:
        return sorted({f.window_seconds for f in self.aggregates}, key=lambda w: w or -1)


def state_name(feature: Feature) -> str:
    """Features with the same aggregation of the same column share one state per tile: a
    view's counts over 1h, 1d and 7d are one count, read over different tiles."""
    return f"{feature.aggregation}:{feature.column}"


def window_end(at_us: int) -> int:
    """The end (exclusive, in seconds) of every window read at `at_us`."""
    return (at_us // MICROS) // RESOLUTION * RESOLUTION


def tile_start(time_us: int, size: int) -> int:
    return (time_us // MICROS) // size * size


def cover(start: int, end: int) -> list[tuple[int, int]]:
    """The fewest aligned tiles (size, start) whose union is exactly [start, end), in seconds.

    Both bounds are whole multiples of RESOLUTION, the smallest tile.
    """
    tiles: list[tuple[int, int]] = []
    moment = start
    while moment < end:
        size = next(s for s in TILE_SECONDS if moment % s == 0 and moment + s <= end)
        tiles.append((size, moment))
        moment += size
    return tiles


def fold(aggregation: Aggregation, state: State, events: Iterable[tuple[int, Value]]) -> State:
    for time_us, value in events:
        state = aggregation.add(state, value, time_us)
    return state


def finish_features(definition: ViewDefinition, states: dict[str, State]) -> dict[str, Value]:
    """The feature values from each aggregate's state, ratios computed from the results."""
    values: dict[str, Value] = {}
    for feature in definition.aggregates:
        values[feature.name] = AGGREGATIONS[feature.aggregation].finish(states[feature.name])
    for feature in definition.features:
        if feature.ratio is not None:
            numerator, denominator = (values[name] for name in feature.ratio)
            usable = numerator is not None and denominator not in (None, 0)
            values[feature.name] = numerator / denominator if usable else None
    return values


def column_value(feature: Feature, row: dict[str, Any]) -> Value:
    return row[feature.column] if feature.column else None
