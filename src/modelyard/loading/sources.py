"""Which of a version's files to load: its checked ONNX conversion when it has one.

Plain names, not registry rows: the CLI's scoring knows a version only from the API's JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

# Where the registration-time conversion keeps a version's ONNX model, among its artifacts.
ONNX_ARTIFACT = "onnx/model.onnx"


def model_source(directory: Path, artifact_names: Iterable[str], flavor: str) -> tuple[Path, str]:
    """Where to load a version's files from, and as what: its checked ONNX conversion when it
    has one (converted at registration), else its own files as registered."""
    if ONNX_ARTIFACT in set(artifact_names):
        return (directory / ONNX_ARTIFACT).parent, "onnx"
    return directory, flavor
