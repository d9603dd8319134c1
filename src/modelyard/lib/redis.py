"""The one place a Redis client is made, so every process talks to Redis the same way."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis


def redis_client(url: str, *, socket_timeout: float | None = None) -> redis.Redis:
    """A client for `url` (MODELYARD_REDIS_URL); `socket_timeout` bounds each call, None waits
    as long as it takes (a pub/sub listener blocks on purpose)."""
    import redis  # imported here: the embedded default runs without Redis

    return redis.Redis.from_url(url, socket_timeout=socket_timeout)
