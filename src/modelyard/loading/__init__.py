"""Model loading, shared by serving, the promotion gate, scoring and the jobs' commands.

Plain Python: no Django, no modelyard app. The flavours (scikit-learn joblib/pickle files,
ONNX, MLflow model directories) load into a `Predictor`; scikit-learn models are converted
to ONNX when the conversion is faithful. Loading a pickled or MLflow model runs its code,
so outside the prediction server models load only through `sandbox`.

- `load.py` load_predictor: files + flavor -> Predictor (ONNX when faithful)
- `predictor.py` the Predictor interface and the scikit-learn predictor
- `onnx_model.py` onnxruntime sessions; `cache.py` the conversion cached beside the files
- `conversion.py` skl2onnx conversion and its check against the estimator
- `mlflow_model.py` MLmodel files, flavors, serialization formats, pyfunc models
- `files.py` which file is the model, and unpickling it
- `checks.py` trying a model on example rows; `sources.py` a version's ONNX conversion
- `outputs.py` outputs as columns (`flatten`) and as Arrow
- `sandbox.py`, `sandbox_child.py`, `wire.py` the sandbox, its child and their pipe
"""

from __future__ import annotations

from modelyard.loading.cache import CACHE_PATH
from modelyard.loading.conversion import convert_to_onnx
from modelyard.loading.errors import ModelLoadError, SandboxError
from modelyard.loading.load import SUPPORTED_FLAVORS, load_predictor
from modelyard.loading.mlflow_model import MlflowPyfuncPredictor
from modelyard.loading.onnx_model import OnnxPredictor
from modelyard.loading.predictor import Predictor, SklearnPredictor
from modelyard.loading.sources import ONNX_ARTIFACT, model_source

__all__ = [
    "CACHE_PATH",
    "ONNX_ARTIFACT",
    "SUPPORTED_FLAVORS",
    "MlflowPyfuncPredictor",
    "ModelLoadError",
    "OnnxPredictor",
    "Predictor",
    "SandboxError",
    "SklearnPredictor",
    "convert_to_onnx",
    "load_predictor",
    "model_source",
]
