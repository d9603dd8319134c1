"""Online feature reads on the prediction server, and each view's freshness on /metrics.

    GET  /v1/features/{team}/{view}/online?KEY=VALUE…
    POST /v1/features/{team}/{view}/online   {"entities": [{"user_id": 42}, …]}  (1 to 1,000)

The same lookups and answer as the API's (`/api/v1/features/…/online`), without Django's
request cycle: the views are kept in memory (re-read every poll), so a read is one call of
`features.online.lookup`, which with Redis is one round trip done inline (cheaper than a
hop to a thread); with the database backend it runs on a thread, as the ORM must. Like the
server's other routes, these take no token: the server belongs on the internal network.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl

import orjson
from django.db import connections
from prometheus_client import Gauge

from modelyard.features import online, services
from modelyard.features.models import View
from modelyard.features.online_stores import get_store
from modelyard.lib.errors import ModelyardError, NotFound, Unprocessable

log = logging.getLogger(__name__)

PREFIX = "/v1/features/"
MAX_ENTITIES = 1000
FRESHNESS = Gauge(
    "modelyard_feature_freshness_seconds",
    "Age of the newest event applied to a feature view's online store",
    ["view"],
    multiprocess_mode="livemostrecent",
)

Scope = MutableMapping[str, Any]


class FeatureRoutes:
    def __init__(self, poll_seconds: float = 5.0) -> None:
        self.poll_seconds = poll_seconds
        self.views: dict[str, View] = {}
        self.loaded_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # The ORM's work off the event loop, on a thread of our own so that its database
        # connection can be closed when the server stops.
        self._database = ThreadPoolExecutor(1, thread_name_prefix="feature-reads")

    # --- the views, and their freshness ---------------------------------------------------

    def start(self) -> None:
        """Read the views now and every poll on a thread of this process (after the fork)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="feature-views", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._database.submit(connections.close_all).result(timeout=10)
        self._database.shutdown()

    def _watch(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self.refresh()
                except Exception:  # the database may be away for a while: keep serving
                    log.exception("Could not re-read the feature views")
                self._stop.wait(self.poll_seconds)
        finally:
            connections.close_all()

    def refresh(self) -> None:
        views = View.objects.select_related("team", "source", "version").filter(active=True)
        self.views = {view.ref: view for view in views}
        self.loaded_at = time.monotonic()
        for ref, view in self.views.items():
            age = online.freshness_seconds(view)
            if age is not None:
                FRESHNESS.labels(ref).set(age)

    async def _view(self, team: str, name: str) -> View:
        view = self.views.get(f"{team}/{name}")
        if view is None and time.monotonic() - self.loaded_at > 1.0:
            await asyncio.get_running_loop().run_in_executor(self._database, self.refresh)
            view = self.views.get(f"{team}/{name}")
        if view is None:
            raise NotFound(f"No feature view {team}/{name}; apply a modelyard.yaml declaring it.")
        return view

    # --- requests ----------------------------------------------------------------------------

    async def answer(self, scope: Scope, body: bytes | None) -> tuple[int, bytes]:
        """(status, JSON body) for a request under /v1/features/."""
        try:
            return 200, await self._answer(scope, body)
        except ModelyardError as error:
            field = error.details.get("field")
            return error.status, orjson.dumps({"error": error.message, "field": field})

    async def _answer(self, scope: Scope, body: bytes | None) -> bytes:
        team, slash, rest = scope["path"][len(PREFIX) :].partition("/")
        name, _, tail = rest.partition("/")
        if not (team and slash and name) or tail != "online":
            raise NotFound(f"No route {scope['path']}; read features at {PREFIX}TEAM/VIEW/online.")
        view = await self._view(team, name)
        if scope["method"] == "POST":
            entities = [
                services.entity_keys(view, given, from_text=False) for given in _entities(body)
            ]
        else:
            given = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            entities = [services.entity_keys(view, given, from_text=True)]
        if get_store().uses_database:
            loop = asyncio.get_running_loop()
            found = await loop.run_in_executor(self._database, online.lookup, view, entities)
        else:
            found = online.lookup(view, entities)
        return orjson.dumps(
            {
                "view": view.ref,
                "version": view.version.version if view.version else None,
                "freshness_seconds": online.age_seconds(found.newest_us),
                "results": [
                    {"entity": dict(zip(view.source.keys, keys, strict=True)), "features": values}
                    for keys, values in zip(entities, found.values, strict=True)
                ],
            }
        )


def _entities(body: bytes | None) -> list[Any]:
    try:
        document = orjson.loads(body or b"")
    except orjson.JSONDecodeError as error:
        raise Unprocessable(f"The body is not valid JSON ({error}).", field="body") from None
    entities = document.get("entities") if isinstance(document, dict) else None
    if not isinstance(entities, list) or not 0 < len(entities) <= MAX_ENTITIES:
        raise Unprocessable(
            f'Send {{"entities": [{{"KEY": VALUE, …}}, …]}} with 1 to {MAX_ENTITIES} entities.',
            field="entities",
        )
    for entity in entities:
        if not isinstance(entity, dict):
            raise Unprocessable("Each entity is an object of key values.", field="entities")
    return entities
