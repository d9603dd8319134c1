"""What a running command gets: `def train(ctx: modelyard.sdk.Context) -> None`.

    import modelyard.sdk

    def score(ctx: modelyard.sdk.Context) -> None:
        for ref in ctx.inputs("dataset"):          # the versions that triggered this run
            ctx.log.info("scoring %s", ref)
        ctx.progress(50, 100)                      # shown on the run, with an ETA
        path = ctx.output_dir / "model.joblib"     # write outputs here
        ...
        ctx.register_model("churn", path, metrics={"auc": 0.91})  # lineage filled in
        raise modelyard.sdk.Transient("S3 is down")  # ask for a retry (with backoff)

A command runs in its own process with its own log; everything it prints is kept with
the run. Registered versions are recorded as the run's outputs, with lineage to the data
set and feature set versions that triggered it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class Transient(Exception):
    """A failure worth retrying (a store or service unavailable): the run is retried with
    backoff while it has attempts left (`retries:` in modelyard.yaml)."""


@dataclass
class Context:
    run_id: int
    project: str
    team: str
    command: str
    attempt: int
    triggers: list[dict[str, Any]]
    output_dir: Path
    args: dict[str, str] = field(default_factory=dict)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("modelyard.run"))
    _last_progress: float = 0.0

    def inputs(self, kind: str) -> list[str]:
        """Versions (TEAM/NAME:V) of this kind that triggered the run, oldest first."""
        refs = [t.get("version") for t in self.triggers if t.get("kind") == kind]
        return list(dict.fromkeys(ref for ref in refs if ref))

    def progress(self, done: int, total: int | None = None) -> None:
        """Report progress; written at most once a second, so call it as often as you like."""
        now = time.monotonic()
        if now - self._last_progress < 1.0 and (total is None or done < total):
            return
        self._last_progress = now
        from modelyard.jobs.models import Run

        Run.objects.filter(pk=self.run_id).update(progress_done=done, progress_total=total)

    def register_model(self, name: str, *paths: Path | str, **metadata: Any) -> str:
        return self._register("model", name, paths, "trained_on", metadata)

    def register_dataset(self, name: str, *paths: Path | str, **metadata: Any) -> str:
        return self._register("dataset", name, paths, "derived_from", metadata)

    def _register(
        self,
        kind: str,
        name: str,
        paths: tuple[Path | str, ...],
        relation: str,
        metadata: Mapping[str, Any],
    ) -> str:
        from modelyard.jobs.outputs import register_output

        return register_output(self, kind, name, paths, relation, dict(metadata))
