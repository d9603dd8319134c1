"""The prediction server's ASGI app: KServe V2 routes, a plain JSON route, health, metrics.

Written against ASGI directly rather than a framework: a prediction of a converted model
takes ~10 µs, so routing, body handling and JSON are most of a request's cost, and each
layer removed shows in requests per second (benchmarks/serving.py). No Django request
cycle runs here; Django is only used off the hot path, to load versions.

Routes:
  GET  /v2/health/live, /v2/health/ready, /v2, /v2/models/{name}[/versions/{v}][/ready]
  POST /v2/models/{name}[/versions/{v}]/infer        (Open Inference Protocol)
  POST /v1/models/{name}:predict  {"instances": [[…], …] or [{"col": …}, …]}
                                   or, for a model whose signature names features,
                                   {"entities": [{"user_id": 42}, …]} (?explain=features)
  GET  /v1/models                  what is served, versions, load times and errors
  GET  /metrics                    Prometheus
  GET/POST /v1/features/{team}/{view}/online   online features (feature_routes.py)
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from modelyard.registry.access import record_access
from modelyard.serving import entities, metrics, v2
from modelyard.serving.feature_routes import PREFIX as FEATURES
from modelyard.serving.feature_routes import FeatureRoutes
from modelyard.serving.fleet import Fleet, Served, Slot
from modelyard.serving.signature import InputError

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = [(b"content-type", b"application/json")]
MAX_BODY_BYTES = 64 * 1024 * 1024
COLD_LOAD = "modelyard.cold_load"  # set in a request's scope when it waited for a cold load
NAMES_IN_ERRORS = 20


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Recorder(Protocol):
    """The prediction log (modelyard.monitoring.log), handed in by whoever builds the app:
    the server imports nothing of monitoring, and without a recorder pays one `is None`."""

    def sampled(self, model: str) -> bool: ...

    def stop(self) -> None: ...

    def record(
        self,
        request_id: str,
        slot: Slot,
        served: Served,
        rows: Any,
        outputs: dict[str, Any] | None,
        status: int,
        seconds: float,
    ) -> None: ...


@dataclass(slots=True)
class Note:
    """What one sampled request leaves for the recorder."""

    recorder: Recorder
    request_id: str
    rows: Any = None
    outputs: dict[str, Any] | None = None


class App:
    def __init__(
        self, fleet: Fleet, max_body_bytes: int = MAX_BODY_BYTES, recorder: Recorder | None = None
    ) -> None:
        self.fleet = fleet
        self.max_body_bytes = max_body_bytes
        self.recorder = recorder
        self.features = FeatureRoutes()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.fleet.start_watching()  # here: after the worker process was forked
                self.features.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.fleet.stop()
                self.features.stop()
                if self.recorder is not None:
                    self.recorder.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        headers = None
        try:
            if path.startswith(FEATURES):  # online feature reads (serving/feature_routes.py)
                body = await self._body(receive) if scope["method"] == "POST" else None
                status, body = await self.features.answer(scope, body)
            elif scope["method"] == "POST" and self.recorder is None:
                status, body = await self._post(path, scope, receive, None)
            elif scope["method"] == "POST":
                request_id = _request_id(scope)
                headers = [(b"x-request-id", request_id.encode())]
                status, body = await self._post(path, scope, receive, request_id)
            elif scope["method"] in ("GET", "HEAD"):
                status, body = self._get(path)
            else:
                status, body = 405, _error("Use GET or POST.")
        except BadRequest as error:
            status, body = error.status, _error(str(error))
        content_type = metrics.CONTENT_TYPE if path == "/metrics" else None
        if scope.get(COLD_LOAD):
            headers = [*(headers or ()), (b"x-modelyard-cold-load", b"1")]
        await _respond(send, status, body, content_type, headers)

    # --- GET ------------------------------------------------------------------------------

    def _get(self, path: str) -> tuple[int, bytes]:
        if path == "/v2/health/live":
            return 200, b'{"live":true}'
        if path == "/v2/health/ready":
            ready = self.fleet.ready
            return (200 if ready else 503), orjson.dumps({"ready": ready, **self._models()})
        if path == "/v2":
            return 200, orjson.dumps(
                {"name": "modelyard", "version": "1", "extensions": ["binary_tensor_data"]}
            )
        if path == "/metrics":
            return 200, metrics.render()
        if path == "/v1/models":
            return 200, orjson.dumps(self._models())
        if path.startswith("/v2/models/"):
            return self._model_get(path[len("/v2/models/") :])
        raise BadRequest(404, f"No route {path}; see /v1/models for what is served.")

    def _models(self) -> dict[str, Any]:
        return {"models": [slot.status() for slot in self.fleet.slots.values()]}

    def _model_get(self, rest: str) -> tuple[int, bytes]:
        ready = rest.endswith("/ready")
        name, version = _name_and_version(rest.removesuffix("/ready"))
        slot, served = self._served(name, version)
        if ready:
            return 200, orjson.dumps({"name": name, "ready": True})
        loaded = served.loaded
        flavor = loaded.predictor.flavor
        keys = served.features.keys if served.features is not None else None
        return 200, v2.metadata(slot.name, [str(loaded.number)], loaded.signature, flavor, keys)

    # --- POST -----------------------------------------------------------------------------

    async def _post(
        self, path: str, scope: Scope, receive: Receive, request_id: str | None
    ) -> tuple[int, bytes]:
        if path.startswith("/v2/models/") and path.endswith("/infer"):
            name, version = _name_and_version(path[len("/v2/models/") : -len("/infer")])
            slot, served = await self._warm(scope, *self._slot(name))
            self._check_version(slot, served, version)
            body = await self._body(receive)
            note = self._note(slot, request_id)
            if served.features is None:
                answer = _v2_answer(slot, served, body, _json_length(scope), note)
            else:
                answer = _v2_entities_answer(slot, served, body, _json_length(scope), note)
            return await _answered(slot, served, answer, note)
        if path.startswith("/v1/models/") and path.endswith(":predict"):
            slot, served = await self._warm(
                scope, *self._slot(path[len("/v1/models/") : -len(":predict")])
            )
            body = await self._body(receive)
            note = self._note(slot, request_id)
            if served.features is None:
                answer = _records_answer(slot, served, body, note)
            else:
                explain = entities.explain_wanted(scope.get("query_string", b""))
                answer = _entities_answer(slot, served, body, note, explain)
            return await _answered(slot, served, answer, note)
        raise BadRequest(404, f"No route POST {path}; predict at /v2/models/NAME/infer.")

    def _note(self, slot: Slot, request_id: str | None) -> Note | None:
        if request_id is None or self.recorder is None or not self.recorder.sampled(slot.ref):
            return None
        return Note(self.recorder, request_id)

    def _served(self, name: str, version: str | None) -> tuple[Slot, Served]:
        slot, served = self._slot(name)
        if served is None:
            state = "unloaded for the memory budget" if slot.cold else "not loaded yet"
            raise BadRequest(503, f"{name} is {state}. {slot.error}".strip())
        self._check_version(slot, served, version)
        return slot, served

    def _slot(self, name: str) -> tuple[Slot, Served | None]:
        slot = self.fleet.find(name)
        if slot is None:
            raise BadRequest(404, f"No model {name!r} is served here; {_serving(self.fleet)}.")
        return slot, slot.current

    @staticmethod
    def _check_version(slot: Slot, served: Served, version: str | None) -> None:
        if version is not None and version != str(served.loaded.number):
            raise BadRequest(
                404,
                f"{slot.name} version {version} is not served; version {served.loaded.number} is.",
            )

    async def _warm(self, scope: Scope, slot: Slot, served: Served | None) -> tuple[Slot, Served]:
        """The served version, loading a cold model first (concurrent requests share it);
        such a request's answer says so in `X-Modelyard-Cold-Load: 1`."""
        if served is None and slot.cold:
            scope[COLD_LOAD] = True
            if slot.warming is None:
                loop = asyncio.get_running_loop()
                slot.warming = loop.run_in_executor(None, self.fleet.load_cold, slot)
                slot.warming.add_done_callback(lambda _: setattr(slot, "warming", None))
            await asyncio.shield(slot.warming)
            served = slot.current
        if served is None:
            raise BadRequest(503, f"{slot.name} is not loaded yet. {slot.error}".strip())
        return slot, served

    async def _body(self, receive: Receive) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BadRequest(413, f"The body is over {self.max_body_bytes} bytes; split it.")
            chunks.append(chunk)
            if not message.get("more_body"):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _answered(
    slot: Slot, served: Served, work: Awaitable[bytes], note: Note | None = None
) -> tuple[int, bytes]:
    """Run one prediction; bad input is a 422 naming the field, anything else a logged 500."""
    started = time.perf_counter()
    try:
        status, payload = 200, await work
    except InputError as error:
        served.metrics.bad_input.inc()
        status, payload = 422, orjson.dumps({"error": str(error), "field": error.field})
    except Exception:
        served.metrics.failed.inc()
        log.exception("Prediction failed for %s", slot.name)
        status = 500
        payload = _error(f"{slot.name} failed to predict; the server log has the details.")
    else:
        _done(slot, served, started)
    if note is not None:
        seconds = time.perf_counter() - started
        note.recorder.record(
            note.request_id, slot, served, note.rows, note.outputs, status, seconds
        )
    return status, payload


async def _v2_answer(
    slot: Slot, served: Served, body: bytes, json_length: int | None, note: Note | None
) -> bytes:
    request = v2.parse_request(body, json_length, served.loaded.signature)
    outputs = await served.dispatch(request.rows)
    if note is not None:
        note.rows, note.outputs = request.rows, outputs
    return v2.response_body(slot.name, served.loaded.number, outputs, request)


async def _records_answer(slot: Slot, served: Served, body: bytes, note: Note | None) -> bytes:
    document = _loads(body)
    if not isinstance(document, dict) or "instances" not in document:
        raise InputError("instances", 'send {"instances": [[…], …]}.')
    rows = served.loaded.signature.rows(document["instances"])
    outputs = await served.dispatch(rows)
    if note is not None:
        note.rows, note.outputs = rows, outputs
    return orjson.dumps(_records(slot, served, outputs), option=orjson.OPT_SERIALIZE_NUMPY)


async def _entities_answer(
    slot: Slot, served: Served, body: bytes, note: Note | None, explain: bool
) -> bytes:
    """Entity keys in, the model's features fetched from the online store, a prediction out."""
    assert served.features is not None
    document = _loads(body)
    if not isinstance(document, dict) or "entities" not in document:
        example = ", ".join(f'"{key}": …' for key in served.features.keys)
        raise InputError(
            "entities", f'{slot.name} fetches its features: send {{"entities": [{{{example}}}]}}.'
        )
    given = entities.checked(served.features, document["entities"])
    rows, values = await entities.fetch(served.features, given)
    outputs = await served.dispatch(rows)
    if note is not None:
        note.rows, note.outputs = rows, outputs
    answer = _records(slot, served, outputs)
    if explain:
        answer["features"] = entities.explained(served.features, values)
    return orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY)


async def _v2_entities_answer(
    slot: Slot, served: Served, body: bytes, json_length: int | None, note: Note | None
) -> bytes:
    assert served.features is not None
    given, request_id, wanted = v2.parse_entities(body, json_length, served.features.keys)
    rows, _ = await entities.fetch(served.features, entities.checked(served.features, given))
    outputs = await served.dispatch(rows)
    if note is not None:
        note.rows, note.outputs = rows, outputs
    request = v2.Request(rows, request_id, wanted)
    return v2.response_body(slot.name, served.loaded.number, outputs, request)


def _records(slot: Slot, served: Served, outputs: dict[str, Any]) -> dict[str, Any]:
    primary = next((outputs[k] for k in ("label", "prediction") if k in outputs), None)
    body: dict[str, Any] = {"model": slot.name, "version": served.loaded.number}
    body["predictions"] = primary if primary is not None else next(iter(outputs.values()))
    if "probability" in outputs:
        body["probability"] = outputs["probability"]
    return body


def _done(slot: Slot, served: Served, started: float) -> None:
    slot.last_used = started
    served.metrics.ok.inc()
    served.metrics.latency.observe(time.perf_counter() - started)
    record_access(served.loaded.version_id)


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InputError("body", f"not valid JSON ({error}).") from None


def _serving(fleet: Fleet) -> str:
    """What a 404 lists: the served names, a few of them when there are thousands."""
    names = list(fleet.slots)
    if not names:
        return f"no model has the '{fleet.alias}' alias yet"
    shown = ", ".join(names[:NAMES_IN_ERRORS])
    more = (
        f" and {len(names) - NAMES_IN_ERRORS} more (GET /v1/models)"
        if len(names) > NAMES_IN_ERRORS
        else ""
    )
    return f"serving: {shown}{more}"


def _name_and_version(rest: str) -> tuple[str, str | None]:
    name, _, version = rest.partition("/versions/")
    return name, version or None


def _json_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"inference-header-content-length":
            try:
                return int(value)
            except ValueError:
                raise BadRequest(400, "Inference-Header-Content-Length is not a number.") from None
    return None


def _request_id(scope: Scope) -> str:
    """The client's X-Request-ID (to send feedback by), else a new one."""
    for key, value in scope["headers"]:
        if key == b"x-request-id" and 0 < len(value) <= 100:
            return str(value.decode("latin-1"))
    return os.urandom(16).hex()


def _error(message: str) -> bytes:
    return orjson.dumps({"error": message})


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str | None,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = JSON if content_type is None else [(b"content-type", content_type.encode())]
    if extra is not None:
        headers = [*headers, *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
