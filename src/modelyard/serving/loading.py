"""From a registered model version to a loaded predictor: fetch its files, load, warm up.

Files are fetched once per machine into `MODELYARD_HOME/cache/versions/<id>/` (versions are
immutable, so the cache never goes stale) through the storage backend of each artifact's
URI; a half-fetched copy is never used because it is renamed into place only when complete.

The prediction server loads in its own process (`load_version`: it must be fast, and with
MODELYARD_SERVE_ONNX_ONLY it loads ONNX models only); the promotion gate loads in a sandbox
(`sandboxed_version`), since unpickling a model runs its code.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from modelyard import storage
from modelyard.loading import ModelLoadError, Predictor, load_predictor, model_source
from modelyard.loading.sandbox import Limits, SandboxedPredictor
from modelyard.registry import stores
from modelyard.registry.access import record_access
from modelyard.registry.models import AssetVersion
from modelyard.serving.signature import InputError, Matrix, Signature, SignatureError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedVersion:
    version_id: int
    number: int
    ref: str
    signature: Signature
    predictor: Predictor
    example: Matrix | None
    load_seconds: float
    # Time of one prediction on one row: decides whether batching can pay for itself.
    single_row_seconds: float


def cache_dir() -> Path:
    return Path(settings.HOME) / "cache" / "versions"


def fetch_files(version: AssetVersion) -> Path:
    """A local directory holding every artifact of the version, under its artifact name.

    Every read of a version's bytes by the platform (the gate, scoring, jobs, serving loads)
    comes through here, so this is where such a read counts as a use.
    """
    stores.check_version(version)  # even cached: the rule may have changed since
    record_access(version.pk)
    target = cache_dir() / _cache_key(version)
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for artifact in version.artifacts.all():
            storage.get_store(artifact.uri).download(artifact.uri, staging / artifact.name)
        staging.rename(target)
    except OSError:
        # Another process renamed its complete copy first: use that one.
        if not target.is_dir():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _cache_key(version: AssetVersion) -> str:
    # The id alone is not enough: another database (a restore, a test run) may reuse it
    # for other bytes under the same MODELYARD_HOME. The artifacts' checksums pin the bytes.
    digest = hashlib.sha256()
    for artifact in version.artifacts.order_by("name"):
        digest.update(f"{artifact.name}\0{artifact.uri}\0{artifact.checksum}\0".encode())
    return f"{version.pk}-{digest.hexdigest()[:16]}"


def example_rows(version: AssetVersion, signature: Signature) -> Matrix | None:
    if not version.input_example:
        return None
    try:
        return signature.rows(version.input_example)
    except InputError as error:
        raise SignatureError(
            f"The input example of {version.ref} does not fit its signature: {error}"
        ) from None


def version_source(version: AssetVersion, *, prefer_onnx: bool = True) -> tuple[Path, str]:
    """The local folder to load the version from, and its flavor: the registered ONNX
    conversion when there is one (and `prefer_onnx`), else the version's own files."""
    if version.is_gone:
        raise ModelLoadError(f"{version.ref} was deleted; it cannot be loaded.")
    names = version.artifacts.values_list("name", flat=True) if prefer_onnx else ()
    return model_source(fetch_files(version), names, version.flavor)


def load_version(version: AssetVersion, *, prefer_onnx: bool = True) -> LoadedVersion:
    """Load a model version in this process (the prediction server) and time one warm
    prediction; errors say what to fix."""
    started = time.perf_counter()
    source, flavor = version_source(version, prefer_onnx=prefer_onnx)
    signature = Signature.parse(version.signature)
    example = example_rows(version, signature)
    if flavor != "onnx" and settings.SERVE_ONNX_ONLY:
        raise ModelLoadError(
            f"{version.ref} is a {flavor} model without an ONNX conversion, and this server "
            "loads only ONNX models (MODELYARD_SERVE_ONNX_ONLY=true): register an ONNX "
            "export of it, or serve it from a server without that setting."
        )
    predictor = load_predictor(source, flavor, example=example, prefer_onnx=prefer_onnx)
    _check_width(version, predictor, signature)
    one_row = example[:1] if example is not None else np.zeros((1, len(signature.inputs)))
    single = _time_one_prediction(predictor, one_row)
    elapsed = time.perf_counter() - started
    log.info("Loaded %s as %s in %.2f s", version.ref, predictor.flavor, elapsed)
    return LoadedVersion(
        version.pk, version.version, version.ref, signature, predictor, example, elapsed, single
    )


@contextmanager
def sandboxed_version(version: AssetVersion) -> Iterator[LoadedVersion]:
    """The version loaded in a sandbox (for the gate), stopped when the block ends."""
    started = time.perf_counter()
    source, flavor = version_source(version)
    signature = Signature.parse(version.signature)
    example = example_rows(version, signature)
    with SandboxedPredictor(
        source, flavor, name=version.ref, limits=Limits.configured(), example=example
    ) as predictor:
        _check_width(version, predictor, signature)
        elapsed = time.perf_counter() - started
        yield LoadedVersion(
            version.pk, version.version, version.ref, signature, predictor, example, elapsed, 0.0
        )


def _check_width(version: AssetVersion, predictor: Predictor, signature: Signature) -> None:
    if predictor.n_features is not None and predictor.n_features != len(signature.inputs):
        raise ModelLoadError(
            f"{version.ref} expects {predictor.n_features} input columns but its signature "
            f"declares {len(signature.inputs)}; register it again with a matching signature."
        )


def _time_one_prediction(predictor: Predictor, row: Matrix) -> float:
    predictor.predict(row)  # the first call pays one-off set-up costs
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        predictor.predict(row)
        timings.append(time.perf_counter() - started)
    return sorted(timings)[len(timings) // 2]
