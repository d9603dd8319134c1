"""Tell running prediction servers that an alias moved, through Redis pub/sub.

Best effort by design: the database is the source of truth and every server also polls it
(`modelyard serve --poll-seconds`), so a lost message only delays a swap until the next poll.
Without Redis (the embedded default) nothing is published and polling does the work.
"""

from __future__ import annotations

import logging

from django.conf import settings

from modelyard.lib.redis import redis_client

log = logging.getLogger(__name__)

ALIAS_CHANNEL = "modelyard:aliases"


def publish_alias_moved(asset_id: int) -> None:
    if not settings.REDIS_URL:
        return
    import redis

    try:
        client = redis_client(settings.REDIS_URL, socket_timeout=2)
        client.publish(ALIAS_CHANNEL, str(asset_id))
        client.close()
    except redis.RedisError as error:
        log.warning("Could not announce the alias move of asset %s: %s", asset_id, error)
