"""Imported once by the forkserver that warm run processes fork from (jobs/starts.py):
Django set up and the run's own modules imported, so a fork only has to run the program."""

from __future__ import annotations

import contextlib
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "modelyard.settings")

# A failure here must not stop the forkserver: the fork sets Django up again (a no-op once
# it worked) and so reports the error in the run's own log.
with contextlib.suppress(Exception):
    import django

    django.setup()

    import modelyard.jobs.child
    import modelyard.sdk  # noqa: F401
