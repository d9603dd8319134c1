"""Storage test fixtures.

The S3 fixtures are imported here so this directory's tests run on their own (for
example with ``-p no:django``); the root conftest also loads them as a plugin.
"""

from __future__ import annotations

from tests.fixtures.s3 import s3_bucket, s3_client, s3_env, s3_server

__all__ = ["s3_bucket", "s3_client", "s3_env", "s3_server"]
