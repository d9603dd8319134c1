"""The built-in score command: a new data set version triggers a run that scores it with the
production model and registers the scores with lineage."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelyard.deployment.services import promote
from modelyard.jobs import process
from modelyard.jobs.models import Run, RunState
from modelyard.registry import services as registry
from modelyard.registry.models import AssetVersion, Kind
from tests.fixtures.models import COLUMNS

pytestmark = pytest.mark.django_db(transaction=True)

SPEC = """\
project: scoring
team: red
program: modelyard.builtins
commands:
  score:
    on:
      - dataset_version_created: {{dataset: patients}}
    args:
      model: red/churn@production
      output: {output}
      register: patient-scores
"""


def parquet(rows: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(
        pa.table({name: rows[:, i] for i, name in enumerate(COLUMNS)}), buffer, row_group_size=100
    )
    return buffer.getvalue()


def test_a_new_data_set_version_is_scored_and_registered(
    apply,
    teams,
    model,
    register_model,
    estimators,
    cancer,
    child_env,
    lake,
    recording_executor,
) -> None:
    promote(teams["alice"], model, register_model(estimators["good"]), "production")
    apply(SPEC.format(output=(lake / "scores").as_uri()))  # a declared store
    data = registry.create_asset(teams["alice"], Kind.DATASET, teams["red"], "patients")
    payload = parquet(cancer[0])

    registry.register_version(  # the event, through the (eager) broker, queues and dispatches
        teams["alice"],
        data,
        registry.VersionSpec(flavor="parquet"),
        [registry.ArtifactSource("rows.parquet", stream=io.BytesIO(payload), size=len(payload))],
    )
    (run_id,) = recording_executor
    assert process.execute(run_id) == RunState.SUCCEEDED, Run.objects.get(pk=run_id).logs

    run = Run.objects.get(pk=run_id)
    assert run.outputs == ["red/patient-scores:1"]
    assert (run.progress_done, run.progress_total) == (569, 569)
    scores = AssetVersion.objects.get(asset__name="patient-scores")
    assert {(v.ref) for v in scores.trained_on.all()} == {"red/churn:1", "red/patients:1"}
    table = pq.read_table(lake / "scores" / "red_patients-1")
    assert table.num_rows == 569
    labels = table.column("label").to_numpy()
    assert np.array_equal(labels, estimators["good"].predict(cancer[0]))
