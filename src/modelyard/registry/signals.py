"""Registry events other apps react to, and the questions the registry asks of them.

`version_registered(version_id, kind, flavor)`: a new version's rows and bytes are in place.
`alias_moved(version_id, kind, asset_ref, alias)`: an alias now points at that version
(a promotion, when the alias is an environment's).
`deletion_failed(version_id, error, attempts, permanent, next_attempt_at)`: a store refused
to delete a version's bytes; `permanent` when retrying cannot help (the lifecycle tells
the team and the admins at once).
Deployment converts scikit-learn models to ONNX on it; jobs will start runs on it. Sending
a signal keeps the registry free of imports from the apps that build on it.

`lineage_wanted(asset, spec)` is asked before a version is registered: a receiver returns
more upstream lineage for it as `[(AssetVersion, relation)]` (the feature store: the feature
set versions a model's signature names), or raises InvalidInput to refuse the version.

`outlook_wanted(versions)` is a question rather than an event: its receiver (the lifecycle)
returns `{version_id: Outlook}`, so the API and pages can show when a version will be
deleted without the registry knowing how that is decided.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.dispatch import Signal

if TYPE_CHECKING:
    from modelyard.registry.models import AssetVersion

version_registered = Signal()
alias_moved = Signal()
deletion_failed = Signal()
outlook_wanted = Signal()
lineage_wanted = Signal()


@dataclass(frozen=True)
class Outlook:
    """What the lifecycle expects of one version."""

    delete_on: datetime | None = None
    why: str = ""


NO_OUTLOOK = Outlook()


def outlooks(versions: Sequence[AssetVersion], *, why: bool = True) -> dict[int, Outlook]:
    """Each version's outlook, asked of the lifecycle once for the whole list; without
    `why` (the API's listings show only the deletion date) the reasons are not looked up."""
    found: dict[int, Outlook] = {}
    if versions:
        for _receiver, answer in outlook_wanted.send(sender=None, versions=versions, why=why):
            if isinstance(answer, dict):
                found.update(answer)
    return found
