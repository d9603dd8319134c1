"""Settings for the test suite: the production settings plus what only tests need.

The database comes from MODELYARD_DATABASE_URL as in production, so the same suite runs
on PostgreSQL and on the embedded SQLite default (see the Makefile's `test` target).
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("MODELYARD_HOME", tempfile.mkdtemp(prefix="modelyard-test-"))
os.environ.setdefault("MODELYARD_SECRET_KEY", "test-secret-key-not-for-production")
# Access tracking must be deterministic in tests: flushed explicitly, never by a timer.
os.environ.setdefault("MODELYARD_ACCESS_FLUSH_SECONDS", "3600")

from modelyard.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
STORAGES = {"staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file rather than :memory:, so a worker subprocess started by a test can share it.
    DATABASES["default"]["TEST"] = {"NAME": str(HOME / "test.sqlite3")}  # noqa: F405

# Tiles in the test database, rolled back with each test; the tests of the Redis backend
# choose it themselves (tests/features/test_online_equals_offline.py), on their own Redis.
FEATURES_ONLINE_STORE = "database"
