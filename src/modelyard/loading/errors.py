"""The errors of model loading, each with a message that says what to fix."""

from __future__ import annotations


class ModelLoadError(Exception):
    """The files cannot be loaded as a model: the message says what was wrong and what to do."""


class SandboxError(ModelLoadError):
    """The model's code failed, ran out of time or memory, or died in its sandbox."""
