"""The errors of model loading, each with a message that says what to fix."""

from __future__ import annotations

from modelyard.lib.errors import Unprocessable


class ModelLoadError(Unprocessable):
    """The files cannot be loaded as a model: the message says what was wrong and what to do.

    An expected error (a ModelyardError), so the CLI's boundary shows it as one line and the
    API answers 422, wherever a model is loaded.
    """


class SandboxError(ModelLoadError):
    """The model's code failed, ran out of time or memory, or died in its sandbox."""
