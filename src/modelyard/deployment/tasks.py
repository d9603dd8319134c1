"""Background work for deployment: scikit-learn models converted to ONNX once registered.

The conversion is kept as a derived artifact of the version (`onnx/model.onnx`), so the
gate and every server load the fast model straight away instead of each converting it.
It is kept only when the ONNX model gives the same labels and probabilities as the
original on the version's input example (or on generated rows of the right width).
Unpickling the model to convert it runs its code, so the conversion runs in a sandbox
(loading/sandbox.py): this worker holds the database URL and the secret key; it does not.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from modelyard import storage
from modelyard.loading import ONNX_ARTIFACT, ModelLoadError
from modelyard.loading.sandbox import Limits, convert_in_sandbox
from modelyard.registry import services
from modelyard.registry.models import AssetVersion, Kind
from modelyard.serving.loading import example_rows, fetch_files
from modelyard.serving.signature import Signature, SignatureError

log = logging.getLogger(__name__)
CONVERTIBLE_FLAVORS = ("sklearn", "mlflow")


def queue_conversion(sender: Any, *, version_id: int, kind: str, flavor: str, **_: Any) -> None:
    """Receiver of registry.signals.version_registered."""
    if kind == Kind.MODEL and flavor.lower() in CONVERTIBLE_FLAVORS:
        convert_version_to_onnx.delay(version_id)


@shared_task(autoretry_for=(storage.StoreUnavailable,), retry_backoff=30, max_retries=5)
def convert_version_to_onnx(version_id: int) -> str:
    """Convert and attach; returns what happened (for the worker log). Safe to run twice."""
    version = AssetVersion.objects.select_related("asset__team").get(pk=version_id)
    if version.is_gone:
        return "deleted"
    if version.artifacts.filter(name=ONNX_ARTIFACT).exists():
        return "already converted"
    try:
        payload = _convert(version)
    except (ModelLoadError, SignatureError, storage.ObjectNotFound) as error:
        log.info("%s is not converted to ONNX: %s", version.ref, error)
        return f"not converted: {error}"
    if payload is None:
        return "not converted: no faithful conversion"
    added = services.add_derived_artifact("system:onnx", version, ONNX_ARTIFACT, payload)
    return "converted" if added else "already converted"


def _convert(version: AssetVersion) -> bytes | None:
    signature = Signature.parse(version.signature)
    example = example_rows(version, signature)
    return convert_in_sandbox(
        fetch_files(version),
        version.flavor,
        name=version.ref,
        limits=Limits.configured(),
        example=example,
    )
