"""A model's features fetched by entity id: online for the prediction server, point in time
for batch scoring, and the feature set versions it depends on for lineage.

`FeatureLookup.resolve` turns the signature's references (features/references.py) into the
views that answer them, once, when a model is registered or loaded; a request then costs one
batched online read per view (`online.read`, whatever store is behind it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from modelyard.features import offline, online, services
from modelyard.features.models import View
from modelyard.features.references import FeatureRef, FeatureRefError, feature_inputs
from modelyard.lib.errors import InvalidInput, NotFound
from modelyard.registry.models import Asset, AssetVersion, Kind, LineageEdge
from modelyard.registry.services import VersionSpec


class EntityError(ValueError):
    """An entity in a request lacks a key or has one of the wrong type; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class FeatureLookup:
    refs: tuple[FeatureRef, ...]
    views: tuple[View, ...]  # distinct, in the order the signature first names them
    positions: tuple[int, ...]  # for each ref, its view's index in `views`
    keys: dict[str, str]  # every key column the views need, and its type (int, string)

    @classmethod
    def resolve(cls, team: str, refs: tuple[FeatureRef, ...]) -> FeatureLookup:
        """The active views behind `refs` (a model of `team`); NotFound names what is not."""
        views: dict[tuple[str, str], View] = {}
        for ref in refs:
            slot = (ref.team_or(team), ref.view)
            view = views.get(slot) or services.get_view(*slot)
            views[slot] = view
            known = [f["name"] for f in view.definition["view"]["features"]]
            if ref.feature not in known:
                raise NotFound(
                    f"Feature view {view.ref} has no feature {ref.feature!r} (it has "
                    f"{', '.join(known)}); fix the model's signature or the view."
                )
        keys: dict[str, str] = {}
        for view in views.values():
            for column in view.source.keys:
                keys.setdefault(column, view.source.schema[column])
        order = list(views)
        positions = tuple(order.index((ref.team_or(team), ref.view)) for ref in refs)
        return cls(refs, tuple(views.values()), positions, keys)

    @property
    def versions(self) -> list[AssetVersion]:
        """The feature set versions answering now (the model's upstream lineage)."""
        return [view.version for view in self.views if view.version is not None]

    def names(self) -> list[str]:
        """The signature's input names, in order."""
        return [f"{ref.team}/" * bool(ref.team) + f"{ref.view}:{ref.feature}" for ref in self.refs]

    def check_entities(self, entities: Any, field: str = "entities") -> list[dict[str, Any]]:
        """The entities as given, checked: a non-empty list of objects holding every key."""
        if not isinstance(entities, list) or not entities:
            example = ", ".join(f'"{k}": …' for k in self.keys)
            raise EntityError(field, f"send a non-empty list of entities, e.g. [{{{example}}}].")
        for index, entity in enumerate(entities):
            if not isinstance(entity, dict):
                raise EntityError(f"{field}[{index}]", "each entity is an object of key values.")
            missing = [key for key in self.keys if key not in entity]
            if missing:
                raise EntityError(
                    ", ".join(missing),
                    f"entity key(s) missing from {field}[{index}]; this model needs "
                    f"{', '.join(self.keys)}.",
                )
            for key, kind in self.keys.items():
                _check_key(key, kind, entity[key], f"{field}[{index}]")
        return entities

    def online_rows(self, entities: list[dict[str, Any]]) -> list[list[Any]]:
        """Each entity's feature values now, in signature order (one read per view)."""
        answers = [
            online.read(view, [[e[k] for k in view.source.keys] for e in entities])
            for view in self.views
        ]
        by_ref = list(zip(self.positions, (ref.feature for ref in self.refs), strict=True))
        return [
            [answers[position][row][feature] for position, feature in by_ref]
            for row in range(len(entities))
        ]

    def training_table(self, entities: pa.Table, time_column: str) -> pa.Table:
        """The entity table (keys, time, anything else) with the features as of each row's
        time appended, named as the signature names them: the training-set code, reused."""
        wanted: list[list[str]] = [[] for _ in self.views]
        for position, ref in zip(self.positions, self.refs, strict=True):
            wanted[position].append(ref.feature)
        selections = [
            offline.Selection(view, features)
            for view, features in zip(self.views, wanted, strict=True)
        ]
        built = offline.training_table(entities, time_column, selections)
        table = built.select(entities.column_names)
        for position, ref, name in zip(self.positions, self.refs, self.names(), strict=True):
            column = built.column(f"{self.views[position].name}__{ref.feature}")
            table = table.append_column(name, column.cast(pa.float64()))
        return table


def _check_key(key: str, kind: str, value: Any, where: str) -> None:
    fits = (
        isinstance(value, str)
        if kind == "string"
        else isinstance(value, int) and not isinstance(value, bool)
    )
    if not fits:
        raise EntityError(key, f"{value!r} in {where} is not a valid {kind} key.")


def model_lineage(
    sender: Any, *, asset: Asset, spec: VersionSpec, **_: Any
) -> list[tuple[AssetVersion, str]]:
    """Receiver of registry.signals.lineage_wanted: a model version whose signature names
    features is downstream of those views' feature set versions; a mixed signature, or one
    naming a view or feature that does not exist, is refused."""
    if asset.kind != Kind.MODEL:
        return []
    inputs = spec.signature.get("inputs") if isinstance(spec.signature, dict) else None
    names = [
        i["name"] for i in inputs or [] if isinstance(i, dict) and isinstance(i.get("name"), str)
    ]
    try:
        refs = feature_inputs(names)
        if refs is None:
            return []
        lookup = FeatureLookup.resolve(asset.team.name, refs)
    except (FeatureRefError, NotFound) as error:
        raise InvalidInput(f"{asset.ref}: {error}") from None
    return [(version, LineageEdge.Relation.USES_FEATURES) for version in lookup.versions]
