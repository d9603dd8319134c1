"""The promotion gate: a candidate must fit its signature and not score worse than the holder.

1. Signature check: the candidate's declared signature accepts its registered input
   example, and a prediction on it has the declared outputs and shapes.
2. Champion check: on the model's evaluation data set version, the candidate's score on the
   gate's metric is not worse than the current alias holder's beyond the tolerance. Both
   are scored here, on the same rows.

Each check records what it measured, so a refusal explains itself; the report is stored
with the promotion attempt. Both versions load in a sandbox (their code is untrusted); the
evaluation data is read here and only its rows are sent to them.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from typing import Any

from modelyard.deployment import evaluation
from modelyard.deployment.models import GateSettings
from modelyard.lib.errors import InvalidInput
from modelyard.loading import ModelLoadError
from modelyard.registry.models import AssetVersion
from modelyard.serving.loading import LoadedVersion, sandboxed_version
from modelyard.serving.signature import SignatureError

# Errors that mean "this version cannot pass", as opposed to a bug in modelyard.
CHECK_ERRORS = (InvalidInput, ModelLoadError, SignatureError, ValueError)


@dataclass
class Check:
    name: str
    passed: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class GateReport:
    candidate: str
    alias: str
    holder: str | None
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def summary(self) -> str:
        # Without their closing periods: the summary is set inside a sentence of its own.
        failed = [f"{c.name}: {c.message.rstrip('.')}" for c in self.checks if not c.passed]
        return "; ".join(failed) if failed else "all checks passed"

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def run_gate(
    candidate: AssetVersion, alias: str, holder: AssetVersion | None, settings: GateSettings | None
) -> GateReport:
    with ExitStack() as sandboxes:  # the candidate's sandbox ends with the gate
        loaded, signature_check = _signature_check(candidate, sandboxes)
        checks = [signature_check]
        if loaded is not None:
            checks.append(_champion_check(loaded, candidate, holder, settings))
    return GateReport(candidate.ref, alias, holder.ref if holder else None, checks)


def _signature_check(
    candidate: AssetVersion, sandboxes: ExitStack
) -> tuple[LoadedVersion | None, Check]:
    try:
        loaded = sandboxes.enter_context(sandboxed_version(candidate))
    except CHECK_ERRORS as error:
        return None, Check("signature", False, str(error))
    if loaded.example is None:
        message = (
            f"{candidate.ref} has no input example; register it with --example "
            "(a JSON list of a few input rows) so the gate can try it."
        )
        return loaded, Check("signature", False, message)
    if not loaded.signature.outputs:
        message = "The signature declares no outputs; declare them, e.g. probability [-1, 2]."
        return loaded, Check("signature", False, message)
    try:
        outputs = loaded.predictor.predict(loaded.example)
    except CHECK_ERRORS as error:
        return loaded, Check("signature", False, str(error))
    problems = loaded.signature.output_problems(outputs, len(loaded.example))
    details = {
        "example_rows": len(loaded.example),
        "served_as": loaded.predictor.flavor,
        "outputs": {name: list(value.shape) for name, value in outputs.items()},
    }
    if problems:
        return loaded, Check("signature", False, "; ".join(problems), details)
    return loaded, Check("signature", True, "the example fits the signature", details)


def _champion_check(
    loaded: LoadedVersion,
    candidate: AssetVersion,
    holder: AssetVersion | None,
    settings: GateSettings | None,
) -> Check:
    data_version = settings.evaluation_data if settings else None
    if data_version is None:
        if holder is None:
            return Check("champion", True, "no current holder and no evaluation data to score on")
        return Check(
            "champion",
            False,
            f"{candidate.asset.ref} has no evaluation data set; set one with `modelyard gate "
            f"{candidate.asset.ref} --evaluate-on dataset:TEAM/NAME:VERSION`.",
        )
    try:
        return _compare(loaded, candidate, holder, settings, data_version)
    except CHECK_ERRORS as error:
        return Check("champion", False, str(error))


def _compare(
    loaded: LoadedVersion,
    candidate: AssetVersion,
    holder: AssetVersion | None,
    settings: GateSettings | None,
    data_version: AssetVersion,
) -> Check:
    assert settings is not None  # data_version comes from it
    metric = evaluation.choose_metric(settings.metric, candidate.metrics)
    data = evaluation.read_evaluation_data(data_version, loaded.signature, settings.label_column)
    candidate_score = evaluation.score(metric, loaded, data)
    details: dict[str, Any] = {
        "metric": metric.name,
        "higher_is_better": metric.higher_is_better,
        "tolerance": settings.tolerance,
        "data": data.ref,
        "rows": len(data.labels),
        "candidate_score": round(candidate_score, 6),
        "holder_score": None,
    }
    if holder is None:
        return Check(
            "champion", True, f"no current holder; {metric.name} {candidate_score:.4f}", details
        )
    holder_score = _holder_score(metric, holder, settings)
    details["holder_score"] = round(holder_score, 6)
    worse_by = (
        holder_score - candidate_score
        if metric.higher_is_better
        else (candidate_score - holder_score)
    )
    verdict = (
        f"{metric.name} {candidate_score:.4f} vs {holder_score:.4f} for {holder.ref} "
        f"on {data.ref} ({len(data.labels)} rows, tolerance {settings.tolerance:g})"
    )
    return Check("champion", worse_by <= settings.tolerance, verdict, details)


def _holder_score(metric: evaluation.Metric, holder: AssetVersion, settings: GateSettings) -> float:
    assert settings.evaluation_data is not None
    try:
        with sandboxed_version(holder) as loaded:
            data = evaluation.read_evaluation_data(
                settings.evaluation_data, loaded.signature, settings.label_column
            )
            return evaluation.score(metric, loaded, data)
    except (ModelLoadError, SignatureError) as error:
        raise InvalidInput(f"The current holder {holder.ref} cannot be scored: {error}") from None
