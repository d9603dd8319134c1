"""Features named in a model's signature: `view:feature`, or `team/view:feature`.

A model takes all its inputs from the feature store or all from the request, never a mix:
a mix is the pattern that cannot be tested outside production (the request half comes from
an application whose data is not there). So a signature either names a feature in every
input or in none; `feature_inputs` says which, and refuses a mix with one message.

Django-free: the registry's registration hook, the promotion gate and the prediction server
all ask it the same question.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# A view and a feature are named as spec.NAME says; a team as accounts/names.py says.
REFERENCE = re.compile(
    r"^(?:(?P<team>[a-z0-9][a-z0-9._-]{0,62})/)?(?P<view>[a-z][a-z0-9_]{0,62})"
    r":(?P<feature>[a-z][a-z0-9_]{0,62})\Z"
)
FORMAT = "view:feature (a view of the model's team) or team/view:feature"


class FeatureRefError(ValueError):
    """A signature's feature names are unusable: mixed with plain inputs, or malformed."""


@dataclass(frozen=True)
class FeatureRef:
    team: str | None  # None: the model's own team
    view: str
    feature: str

    def team_or(self, default: str) -> str:
        return self.team or default


def feature_inputs(names: Iterable[str]) -> tuple[FeatureRef, ...] | None:
    """The features a signature's inputs name, in order; None when they name none."""
    listed = list(names)
    named = [name for name in listed if ":" in name]
    if not named:
        return None
    plain = [name for name in listed if ":" not in name]
    if plain:
        raise FeatureRefError(
            f"The signature mixes features from the store ({', '.join(named[:3])}) with "
            f"inputs from the request ({', '.join(plain[:3])}). A model takes all its inputs "
            "from the feature store or all from the request: add the missing ones to a "
            f"feature view and name them as {FORMAT}, or name none."
        )
    refs = []
    for name in named:
        match = REFERENCE.match(name)
        if match is None:
            raise FeatureRefError(f"Input {name!r} is not a feature reference; write {FORMAT}.")
        refs.append(FeatureRef(match["team"], match["view"], match["feature"]))
    return tuple(refs)
