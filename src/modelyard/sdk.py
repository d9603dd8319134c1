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

A command given as a command line (`run: python -m churn.train`) gets the same context
in its environment (MODELYARD_RUN_ID, MODELYARD_RUN_OUTPUT_DIR, MODELYARD_RUN_TRIGGERS and
MODELYARD_RUN_ARGS, as JSON); a Python one reads it back with `modelyard.sdk.current()`.
It exits 75 (TRANSIENT_EXIT) to ask for a retry.

This module imports no Django model at its top: a program imports it before Django is set
up (`current()` sets it up), so the functions that read or write rows import them then.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.jobs.models import Run


TRANSIENT_EXIT = 75  # EX_TEMPFAIL: the program says its failure is worth a retry


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

    def environment(self) -> dict[str, str]:
        """The context as environment variables, for a command given as a command line."""
        return {
            "MODELYARD_RUN_ID": str(self.run_id),
            "MODELYARD_RUN_OUTPUT_DIR": str(self.output_dir),
            "MODELYARD_RUN_TRIGGERS": json.dumps(self.triggers),
            "MODELYARD_RUN_ARGS": json.dumps(self.args),
        }

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


def context_for(run: Run, output_dir: Path) -> Context:
    command = run.command
    return Context(
        run.pk,
        command.project.name,
        command.project.team.name,
        command.name,
        run.attempt,
        list(run.triggers),
        output_dir,
        dict(command.args),
    )


def current() -> Context:
    """The context of the run this process is part of: for commands given as a command
    line (`run:` in modelyard.yaml), which get it in their environment."""
    run_id = os.environ.get("MODELYARD_RUN_ID")
    if not run_id:
        raise RuntimeError(
            "Not inside a modelyard run (MODELYARD_RUN_ID is not set): sdk.current() is for "
            "commands that modelyard.yaml gives as `run:`."
        )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "modelyard.settings")
    import django

    django.setup()
    from modelyard.jobs.models import Run

    run = Run.objects.select_related("command__project__team").get(pk=int(run_id))
    return context_for(run, Path(os.environ["MODELYARD_RUN_OUTPUT_DIR"]))
