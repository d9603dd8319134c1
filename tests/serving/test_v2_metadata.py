"""V2 metadata lists every output a response carries, with the datatype it comes back in."""

from __future__ import annotations

import numpy as np
import orjson
from sklearn.linear_model import LogisticRegression

from modelyard.cli.demo import model_signature
from modelyard.loading.predictor import SklearnPredictor
from modelyard.serving.signature import Signature
from modelyard.serving.v2 import _output, metadata

FEATURES = ["a", "b", "c"]


def test_the_demo_declares_what_its_classifier_answers() -> None:
    rows = np.random.default_rng(0).normal(size=(20, 3))
    estimator = LogisticRegression().fit(rows, (rows[:, 0] > 0).astype(int))
    outputs = SklearnPredictor(estimator, n_features=3).predict(rows)
    signature = Signature.parse(model_signature(FEATURES))

    assert signature.output_problems(outputs, len(rows)) == []
    listed = orjson.loads(metadata("demo", ["1"], signature, "sklearn"))["outputs"]
    # What the metadata promises is what a response gives, name and datatype.
    answered = [_output(name, array) for name, array in sorted(outputs.items())]
    assert [(o["name"], o["datatype"]) for o in listed] == [
        (o["name"], o["datatype"]) for o in answered
    ]
    assert [o["name"] for o in listed] == ["label", "probability"]
