"""Predicting by entity id: the features of a model whose signature names them, fetched from
the online store (features/lookup.py), as the matrix the model takes.

The store is read off the event loop (its reads block: database or Redis), one batched read
per view per request. A plain model never comes here: the server checks `Served.features`
once per request and goes its own way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from django.db import close_old_connections

from modelyard.features.lookup import EntityError, FeatureLookup
from modelyard.serving.signature import InputError, Matrix

EXPLAIN = b"explain=features"
T = TypeVar("T")
R = TypeVar("R")


def explain_wanted(query_string: bytes) -> bool:
    """`?explain=features`: echo the feature values used with the prediction."""
    return EXPLAIN in query_string


def checked(lookup: FeatureLookup, entities: Any, field: str = "entities") -> list[dict[str, Any]]:
    try:
        return lookup.check_entities(entities, field)
    except EntityError as error:
        raise InputError(error.field, error.message) from None


async def fetch(lookup: FeatureLookup, entities: list[dict[str, Any]]) -> tuple[Matrix, list[Any]]:
    """The entities' feature values as the model's input matrix, and as read (for explain)."""
    values = await off_the_loop(lookup.online_rows, entities)
    try:
        # A feature with no events yet (a mean, a last) is None: NaN to the model, as the
        # training set's missing value is.
        matrix = np.array(values, dtype=np.float64).reshape(len(entities), len(lookup.refs))
    except (TypeError, ValueError):
        raise InputError(
            "entities", "a feature the model takes is not a number; fix its signature or view."
        ) from None
    return matrix, values


async def off_the_loop(read: Callable[[T], R], argument: T) -> R:
    """Run a blocking read on the default executor's threads."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, _on_thread, read, argument)


def _on_thread(read: Callable[[T], R], argument: T) -> R:
    close_old_connections()  # this executor thread's connection may have gone stale
    return read(argument)


def explained(lookup: FeatureLookup, values: list[list[Any]]) -> list[dict[str, Any]]:
    names = lookup.names()
    return [dict(zip(names, row, strict=True)) for row in values]
