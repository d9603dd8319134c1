"""A Python client of the modelyard REST API; the catalog commands are built on it.

    from modelyard.client import Client

    with Client() as client:  # MODELYARD_URL/MODELYARD_TOKEN, else `modelyard login`'s
        client.register_version("model", "red/churn", ["model.joblib"], metrics={"auc": 0.91})
        client.set_alias("model", "red/churn", "production", 1, reason="beats v0 on AUC")
        client.download("model", "red/churn@production", "serving/")

Local files are streamed to the server, never read whole into memory; anything with a URI
scheme (file://, s3://, ...) is registered where it lies, without copying.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import ssl
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import IO, Any, cast
from urllib.parse import quote

import httpx

from modelyard import config
from modelyard.lib.errors import InvalidInput
from modelyard.registry.refs import Ref, parse_ref

Json = dict[str, Any]
# Called with (bytes done, bytes in total) as an upload or download moves along.
Progress = Callable[[int, int], None]

KINDS = {"model": "models", "dataset": "datasets", "featureset": "featuresets"}
DEFAULT_URL = "http://127.0.0.1:8000"
CHUNK_BYTES = 1024 * 1024
# The server stores an upload before it answers; `modelyard server` lets a request run 600 s.
UPLOAD_READ_TIMEOUT = 600.0
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


FEEDBACK_BATCH = 10_000  # the API's limit per request


class ClientError(Exception):
    """Something the caller can fix: configuration, a local file, an unreachable server."""


class ApiError(ClientError):
    """The server refused a request; `message` is the server's own explanation."""

    def __init__(self, status: int, message: str, body: Json | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = body or {}


@dataclass(frozen=True)
class Upstream:
    """A lineage link from a new version to the version it came from."""

    kind: str
    ref: str  # TEAM/NAME:VERSION
    relation: str = "trained_on"

    def as_body(self) -> dict[str, str]:
        return {"kind": self.kind, "ref": self.ref, "relation": self.relation}


@dataclass(frozen=True)
class _LocalFile:
    name: str  # the artifact name inside the version
    path: Path
    size: int


class Client:
    """One connection to a modelyard server, as one user. Use as a context manager."""

    page_size = 500  # the API's maximum, so listing everything takes the fewest requests

    def __init__(
        self, url: str | None = None, token: str | None = None, timeout: float = 30.0
    ) -> None:
        self.url = (url or configured_url()).rstrip("/")
        self.timeout = timeout
        self._http = httpx.Client(
            base_url=f"{self.url}/api/v1",
            headers={"Authorization": f"Bearer {token or _configured_token(self.url)}"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            verify=_tls_context(),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- accounts ------------------------------------------------------------------------

    def me(self) -> Json:
        return self._object("GET", "/me")

    def teams(self) -> list[Json]:
        return self._array("GET", "/teams")

    def get_team(self, name: str) -> Json:
        return self._object("GET", f"/teams/{_segment(name)}")

    def create_team(self, name: str, display_name: str = "", contact_email: str = "") -> Json:
        body = {"name": name, "display_name": display_name, "contact_email": contact_email}
        return self._object("POST", "/teams", json=body)

    def set_member(self, team: str, username: str, role: str = "member") -> Json:
        path = f"/teams/{_segment(team)}/members/{_segment(username)}"
        return self._object("PUT", path, json={"role": role})

    def remove_member(self, team: str, username: str) -> None:
        self._request("DELETE", f"/teams/{_segment(team)}/members/{_segment(username)}")

    # --- assets --------------------------------------------------------------------------

    def list_assets(
        self,
        kind: str,
        team: str | None = None,
        name: str | None = None,
        tag: str | None = None,
    ) -> list[Json]:
        return list(self._pages(f"/{_plural(kind)}", {"team": team, "name": name, "tag": tag}))

    def get_asset(self, kind: str, ref: str) -> Json:
        return self._object("GET", _asset_path(kind, _asset_ref(ref)))

    def create_asset(
        self,
        kind: str,
        team: str,
        name: str,
        description: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> Json:
        body = {"team": team, "name": name, "description": description, "tags": dict(tags or {})}
        return self._object("POST", f"/{_plural(kind)}", json=body)

    def ensure_asset(self, kind: str, ref: str) -> Json:
        """The asset, created first if missing; another client creating it meanwhile is fine."""
        try:
            return self.get_asset(kind, ref)
        except ApiError as error:
            if error.status != 404:
                raise
        parsed = _asset_ref(ref)
        try:
            return self.create_asset(kind, parsed.team, parsed.name)
        except ApiError as error:
            if error.status != 409:
                raise
        return self.get_asset(kind, ref)

    # --- versions ------------------------------------------------------------------------

    def list_versions(
        self,
        kind: str,
        ref: str,
        stale_since: datetime | str | None = None,
        state: str | None = None,
        tag: str | None = None,
    ) -> list[Json]:
        path = f"{_asset_path(kind, _asset_ref(ref))}/versions"
        filters = {"stale_since": _iso(stale_since), "state": state, "tag": tag}
        return list(self._pages(path, filters))

    def list_all_versions(
        self,
        kind: str | None = None,
        team: str | None = None,
        stale_since: datetime | str | None = None,
        state: str | None = None,
        tag: str | None = None,
    ) -> list[Json]:
        """Versions of every asset (of one kind if given); stalest first with stale_since."""
        filters = {
            "kind": kind and _kind(kind),
            "team": team,
            "state": state,
            "tag": tag,
            "stale_since": _iso(stale_since),
        }
        return list(self._pages("/versions", filters))

    def get_version(self, kind: str, ref: str) -> Json:
        """TEAM/NAME:VERSION, TEAM/NAME@ALIAS, or TEAM/NAME for the latest version."""
        parsed = _parse(ref)
        base = _asset_path(kind, parsed)
        if parsed.alias:
            return self._object("GET", f"{base}/aliases/{parsed.alias}")
        number = parsed.version or self._latest_version(kind, parsed)
        return self._object("GET", f"{base}/versions/{number}")

    def register_version(
        self,
        kind: str,
        ref: str,
        paths_or_uris: Sequence[str | Path],
        *,
        description: str = "",
        flavor: str = "",
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        signature: Mapping[str, Any] | None = None,
        input_example: Sequence[Any] | None = None,
        lineage: Sequence[Upstream] = (),
        created_at: datetime | str | None = None,
        last_accessed_at: datetime | str | None = None,
        ensure_asset: bool = True,
        progress: Progress | None = None,
    ) -> Json:
        """Register a new version of TEAM/NAME from local files, directories and URIs.

        A local file becomes an artifact named after the file; each file in a local
        directory one named by its path inside the directory; a URI is referenced where it
        lies. The version number is the server's to assign.
        """
        parsed = _asset_ref(ref)
        uploads, uris = _sources(paths_or_uris)
        if kind == "model":
            signature, input_example = _mlflow_declared(paths_or_uris, signature, input_example)
        metadata: Json = {
            "description": description,
            "flavor": flavor,
            "metrics": dict(metrics or {}),
            "params": dict(params or {}),
            "tags": dict(tags or {}),
            "signature": dict(signature or {}),
            "input_example": list(input_example) if input_example is not None else None,
            "lineage": [link.as_body() for link in lineage],
            "created_at": _iso(created_at),
            "last_accessed_at": _iso(last_accessed_at),
            "artifacts": [{"name": name, "uri": uri} for name, uri in uris],
        }
        if ensure_asset:
            self.ensure_asset(kind, ref)
        path = f"{_asset_path(kind, parsed)}/versions"
        if not uploads:
            return self._object("POST", path, json=metadata)
        return self._upload(f"{path}/upload", uploads, metadata, progress)

    def set_alias(self, kind: str, ref: str, alias: str, version: int, reason: str = "") -> Json:
        path = f"{_asset_path(kind, _asset_ref(ref))}/aliases/{_segment(alias)}"
        return self._object("PUT", path, json={"version": version, "reason": reason})

    def promote(
        self, ref: str, version: int, to: str, *, force: bool = False, reason: str = ""
    ) -> Json:
        """Move TEAM/NAME@to to `version` through the gate; ApiError(409) carries the report."""
        body = {"version": version, "to": to, "force": force, "reason": reason}
        return self._object("POST", f"{_asset_path('model', _asset_ref(ref))}/promote", json=body)

    def rollback(self, ref: str, to: str, reason: str = "") -> Json:
        path = f"{_asset_path('model', _asset_ref(ref))}/rollback"
        return self._object("POST", path, json={"to": to, "reason": reason})

    def promotions(self, ref: str) -> list[Json]:
        return self._array("GET", f"{_asset_path('model', _asset_ref(ref))}/promotions")

    def gate(self, ref: str, **changes: Any) -> Json:
        """The model's gate settings; with changes, update them first (owners)."""
        path = f"{_asset_path('model', _asset_ref(ref))}/gate"
        body = {k: v for k, v in changes.items() if v is not None}
        return self._object("PUT", path, json=body) if body else self._object("GET", path)

    # --- monitoring ------------------------------------------------------------------------

    def send_feedback(self, ref: str, labels: Mapping[str, Any] | Sequence[Json]) -> Json:
        """True labels of logged predictions, sent in batches of at most 10,000: a mapping
        {X-Request-ID the server answered with: label}, or a list of items, each
        `{"request_id": …, "label": …}` or `{"keys": {entity key: value}, "time": …,
        "label": …}` (the latest prediction for that entity at or before that time)."""
        path = f"{_asset_path('model', _asset_ref(ref))}/feedback"
        if isinstance(labels, Mapping):
            items = [{"request_id": key, "label": value} for key, value in labels.items()]
        else:
            items = [{**item, "time": _iso(item.get("time"))} for item in labels]
            items = [{k: v for k, v in item.items() if v is not None} for item in items]
        received = 0
        for start in range(0, len(items), FEEDBACK_BATCH):
            body = {"labels": items[start : start + FEEDBACK_BATCH]}
            received += int(self._object("POST", path, json=body)["received"])
        return {"received": received}

    def set_prediction_log(
        self, ref: str, sample_rate: float | None = None, entity_keys: list[str] | None = None
    ) -> Json:
        """Change the model's share of predictions logged and/or its entity keys."""
        path = f"{_asset_path('model', _asset_ref(ref))}/log"
        body = {"sample_rate": sample_rate, "entity_keys": entity_keys}
        return self._object("PUT", path, json={k: v for k, v in body.items() if v is not None})

    def monitors(self, ref: str) -> list[Json]:
        return self._array("GET", f"{_asset_path('model', _asset_ref(ref))}/monitors")

    def declare_monitor(self, ref: str, name: str, **fields: Any) -> Json:
        path = f"{_asset_path('model', _asset_ref(ref))}/monitors/{_segment(name)}"
        return self._object("PUT", path, json={k: v for k, v in fields.items() if v is not None})

    def alerts(self, ref: str, state: str | None = None) -> list[Json]:
        path = f"{_asset_path('model', _asset_ref(ref))}/alerts"
        return self._array("GET", path, params={"state": state} if state else {})

    def acknowledge_alert(self, alert_id: int) -> Json:
        return self._object("POST", f"/monitoring/alerts/{alert_id}/acknowledge")

    def set_team_webhook(self, team: str, url: str) -> Json:
        """Where the `notify` reactions of the team's monitors post ('' for nowhere)."""
        path = f"/teams/{_segment(team)}/alert-webhook"
        return self._object("PUT", path, json={"url": url})

    # --- jobs ------------------------------------------------------------------------------

    def apply(self, source: str, *, dry_run: bool = False) -> Json:
        """Apply a modelyard.yaml text; ApiError(400) carries `problems` with line numbers."""
        return self._object("POST", "/projects/apply", json={"source": source, "dry_run": dry_run})

    # --- features --------------------------------------------------------------------------

    def push_events(self, source: str, events: list[Json]) -> Json:
        """Send raw events to a feature source (TEAM/SOURCE), all or nothing; returns the
        counts accepted and skipped as duplicates."""
        team, _, name = _pair(source, "TEAM/SOURCE")
        path = f"/features/{_segment(team)}/sources/{_segment(name)}/events"
        return self._object("POST", path, json=events)

    def online_entity(self, view: str, keys: dict[str, str]) -> Json:
        """Online feature values of a view (TEAM/VIEW) for one entity, keys as text (the
        server reads them as the key columns' types)."""
        team, _, name = _pair(view, "TEAM/VIEW")
        path = f"/features/{_segment(team)}/{_segment(name)}/online"
        return self._object("GET", path, params=keys)

    def online_features(
        self, view: str, entities: list[Json], *, serving_url: str | None = None
    ) -> Json:
        """Online feature values of a view (TEAM/VIEW) for entities given by their keys.

        With `serving_url` (a `modelyard serve` server, e.g. http://serve:8080), read from
        the prediction server's feature routes instead: the same answer, faster; the API
        token is not sent there (those routes take none)."""
        team, _, name = _pair(view, "TEAM/VIEW")
        path = f"/features/{_segment(team)}/{_segment(name)}/online"
        if serving_url is None:
            return self._object("POST", path, json={"entities": entities})
        url = f"{serving_url.rstrip('/')}/v1{path}"
        try:
            response = httpx.post(url, json={"entities": entities}, timeout=self.timeout)
        except httpx.HTTPError as error:
            raise ClientError(f"Could not reach the prediction server at {url}: {error}") from None
        body = response.json() if response.content else {}
        if response.status_code != 200:
            message = body.get("error") if isinstance(body, dict) else None
            raise ApiError(response.status_code, str(message or response.text), body)
        return cast(Json, body)

    def start_run(self, project: str, command: str) -> Json:
        team, _, name = project.partition("/")
        path = f"/projects/{_segment(team)}/{_segment(name)}/commands/{_segment(command)}/runs"
        return self._object("POST", path)

    def runs(self, *, project: str | None = None, state: str | None = None) -> list[Json]:
        return list(self._pages("/runs", {"project": project, "state": state}))

    def run(self, run_id: int) -> Json:
        return self._object("GET", f"/runs/{run_id}")

    def cancel_run(self, run_id: int) -> Json:
        return self._object("POST", f"/runs/{run_id}/cancel")

    def rerun(self, run_id: int) -> Json:
        return self._object("POST", f"/runs/{run_id}/rerun")

    def send_event(self, event: str, payload: Mapping[str, Any], team: str | None = None) -> Json:
        """An external event, sent for `team` (you must be a member; default: your only
        team) to the commands listening to that team's events."""
        body: Json = {"event": event, "payload": dict(payload)}
        if team is not None:
            body["team"] = team
        return self._object("POST", "/events", json=body)

    def delete_version(self, kind: str, ref: str, reason: str) -> Json:
        """Schedule TEAM/NAME:VERSION for deletion (owners); its bytes go, its record stays."""
        parsed = _parse(ref)
        if parsed.version is None:
            raise ClientError(
                f"Name the version to delete: {parsed.team}/{parsed.name}:VERSION "
                "(an alias or 'latest' may move while you type)."
            )
        path = f"{_asset_path(kind, parsed)}/versions/{parsed.version}"
        return self._object("DELETE", path, params={"reason": reason})

    def files(self, kind: str, ref: str) -> list[Json]:
        """The files of a version: path, size_bytes and checksum of each."""
        return self._array("GET", f"{self._version_path(kind, ref)}/files")

    def check_usable(self, team: str, uri: str) -> None:
        """Raise (403) unless the declared stores let `team` have modelyard read `uri`."""
        self._object("POST", "/stores/usable", json={"team": team, "uri": uri})

    def mark_used(self, kind: str, ref: str) -> None:
        """Tell the server the version was loaded straight from its store, so it stays fresh."""
        self._request("POST", f"{self._version_path(kind, ref)}/access")

    def download(
        self, kind: str, ref: str, dest_dir: str | Path, progress: Progress | None = None
    ) -> list[Path]:
        """Stream every file of the version into dest_dir, keeping paths; return them."""
        base = self._version_path(kind, ref)
        listing = self._array("GET", f"{base}/files")
        targets = [_target(Path(dest_dir), item["path"]) for item in listing]
        meter = _Meter(sum(item["size_bytes"] for item in listing), progress)
        for item, target in zip(listing, targets, strict=True):
            self._download_file(f"{base}/files/{quote(item['path'])}", item, target, meter)
        return targets

    # --- helpers -------------------------------------------------------------------------

    def _latest_version(self, kind: str, ref: Ref) -> int:
        latest = int(self._object("GET", _asset_path(kind, ref))["latest_version"])
        if latest == 0:
            raise ClientError(
                f"{ref} has no versions yet; register one with "
                f"`modelyard {_plural(kind)} register {ref} PATH_OR_URI`."
            )
        return latest

    def _version_path(self, kind: str, ref: str) -> str:
        """The URL path of a version, with an alias or 'latest' resolved to its number."""
        parsed = _parse(ref)
        number = parsed.version
        if number is None:
            number = int(self.get_version(kind, ref)["version"])
        return f"{_asset_path(kind, parsed)}/versions/{number}"

    def _upload(
        self, path: str, uploads: list[_LocalFile], metadata: Json, progress: Progress | None
    ) -> Json:
        meter = _Meter(sum(upload.size for upload in uploads), progress)
        metadata = {**metadata, "upload_names": [upload.name for upload in uploads]}
        # httpx streams file-like objects in 64 KiB reads and sizes the body up front.
        files = [
            ("files", (PurePosixPath(u.name).name, cast(IO[bytes], _UploadReader(u, meter))))
            for u in uploads
        ]
        timeout = httpx.Timeout(self.timeout, read=max(self.timeout, UPLOAD_READ_TIMEOUT))
        return self._object(
            "POST", path, data={"metadata": json.dumps(metadata)}, files=files, timeout=timeout
        )

    def _download_file(self, path: str, item: Json, target: Path, meter: _Meter) -> None:
        with _replacing(target) as handle, self._transport_errors():
            with self._http.stream("GET", path) as response:
                _raise_for_status(response)
                received, checksum = _copy(response.iter_bytes(CHUNK_BYTES), handle, meter)
            _check_received(item, received, checksum)

    def _pages(self, path: str, filters: Mapping[str, str | None]) -> Iterator[Json]:
        params: dict[str, str | int] = {k: v for k, v in filters.items() if v}
        offset = 0
        while True:
            page = self._object(
                "GET", path, params={**params, "limit": self.page_size, "offset": offset}
            )
            yield from page["items"]
            offset += len(page["items"])
            if not page["items"] or offset >= page["count"]:
                return

    def _object(self, method: str, path: str, **kwargs: Any) -> Json:
        body = self._json(method, path, **kwargs)
        if not isinstance(body, dict):
            raise self._not_modelyard(path)
        return body

    def _array(self, method: str, path: str, **kwargs: Any) -> list[Json]:
        body = self._json(method, path, **kwargs)
        if not isinstance(body, list):
            raise self._not_modelyard(path)
        return body

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        try:
            return response.json() if response.content else None
        except ValueError:
            raise self._not_modelyard(path) from None

    def _not_modelyard(self, path: str) -> ClientError:
        return ClientError(
            f"{self.url}/api/v1{path} did not answer as modelyard's API does; "
            "check that MODELYARD_URL points at a modelyard server."
        )

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self._transport_errors():
            response = self._http.request(method, path, **kwargs)
        _raise_for_status(response)
        return response

    @contextmanager
    def _transport_errors(self) -> Iterator[None]:
        try:
            yield
        except httpx.ConnectError as error:
            raise ClientError(
                f"Cannot reach modelyard at {self.url} ({error}). Start a local server with "
                "`modelyard up`, or set MODELYARD_URL to the address of a running one."
            ) from None
        except httpx.TimeoutException:
            raise ClientError(
                f"modelyard at {self.url} did not answer in time (timeout {self.timeout:g} s, "
                f"{UPLOAD_READ_TIMEOUT:g} s for uploads). Check that the server is healthy."
            ) from None
        except httpx.TransportError as error:
            raise ClientError(f"Talking to modelyard at {self.url} failed: {error}.") from None


# --- configuration -----------------------------------------------------------------------


@cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle takes ~0.1 s; httpx would do it again for every Client.
    return httpx.create_ssl_context()


def configured_url() -> str:
    """MODELYARD_URL, else the server of the last `modelyard login`, else a local `up`."""
    return config.env_str("MODELYARD_URL", "") or config.login_url() or DEFAULT_URL


def _configured_token(url: str) -> str:
    token = config.env_str("MODELYARD_TOKEN", "") or config.login_token(url)
    if token:
        return token
    raise ClientError(
        f"No API token for {url}: sign in with `modelyard login {url}` (a token comes from "
        "your administrator, or `modelyard token create USERNAME` on the server's machine), "
        "or set MODELYARD_TOKEN."
    )


# --- references and paths ----------------------------------------------------------------


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ClientError(f"Unknown kind {kind!r}; use one of: {', '.join(KINDS)}.")
    return kind


def _plural(kind: str) -> str:
    return KINDS[_kind(kind)]


def _parse(text: str) -> Ref:
    try:
        return parse_ref(text)
    except InvalidInput as error:
        raise ClientError(error.message) from None


def _asset_ref(text: str) -> Ref:
    ref = _parse(text)
    if ref.version is not None or ref.alias is not None:
        raise ClientError(
            f"{text!r} names a version; this needs the asset itself: "
            f"{ref.team}/{ref.name} (without :VERSION or @ALIAS)."
        )
    return ref


def _asset_path(kind: str, ref: Ref) -> str:
    return f"/{_plural(kind)}/{ref.team}/{ref.name}"


def _pair(ref: str, shape: str) -> tuple[str, str, str]:
    team, slash, name = ref.partition("/")
    if not (team and slash and name) or "/" in name:
        raise ClientError(f"{ref!r} is not {shape}.")
    return team, slash, name


def _segment(text: str) -> str:
    return quote(text, safe="")


def _iso(moment: datetime | str | None) -> str | None:
    if moment is None or isinstance(moment, str):
        return moment
    # The server compares aware timestamps; a naive one is taken to be UTC, not local time.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _target(dest_dir: Path, relative: str) -> Path:
    """Where a downloaded file goes; refuses paths that would escape dest_dir."""
    parts = PurePosixPath(relative).parts
    if not parts or relative.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ClientError(f"Refusing to download to {relative!r}: not a plain relative path.")
    return dest_dir.joinpath(*parts)


# --- uploads -----------------------------------------------------------------------------


def _sources(paths_or_uris: Sequence[str | Path]) -> tuple[list[_LocalFile], list[tuple[str, str]]]:
    if not paths_or_uris:
        raise ClientError("Give at least one file, directory or URI to register.")
    uploads: list[_LocalFile] = []
    uris: list[tuple[str, str]] = []
    for item in map(str, paths_or_uris):
        if _URI.match(item):
            uris.append((_uri_name(item), item))
        else:
            uploads.extend(_local_files(Path(item)))
    _check_unique([upload.name for upload in uploads] + [name for name, _ in uris])
    return uploads, uris


def _mlflow_declared(
    paths_or_uris: Sequence[str | Path],
    signature: Mapping[str, Any] | None,
    input_example: Sequence[Any] | None,
) -> tuple[Mapping[str, Any] | None, Sequence[Any] | None]:
    """What an uploaded MLflow model directory's MLmodel declares (its signature's inputs
    and its input example), for whichever of the two the caller did not give."""
    directories = [Path(p) for p in paths_or_uris if "://" not in str(p) and Path(p).is_dir()]
    mlmodels = [d for d in directories if (d / "MLmodel").is_file()]
    given = dict(signature or {})
    if len(mlmodels) != 1 or (given.get("inputs") and given.get("outputs") and input_example):
        return signature, input_example
    # Imported here: numpy and pyarrow would slow every CLI command's start.
    from modelyard.loading.errors import ModelLoadError
    from modelyard.loading.signatures import from_mlmodel, predicted_outputs

    try:
        declared, example = from_mlmodel(mlmodels[0])
        example = list(input_example) if input_example is not None else example
        merged = {**declared, **given}
        if merged.get("inputs") and not merged.get("outputs") and example:
            merged["outputs"] = predicted_outputs(mlmodels[0], "mlflow", example)
    except (ModelLoadError, ValueError) as error:
        raise ClientError(f"{mlmodels[0]}: {error}") from None
    return merged, example


def _uri_name(uri: str) -> str:
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    if not name or name.endswith(":"):
        raise ClientError(
            f"Cannot name an artifact after {uri!r}; give the URI of an object "
            "or a prefix below the bucket or root, e.g. s3://bucket/models/churn."
        )
    return name


def _local_files(path: Path) -> list[_LocalFile]:
    if path.is_file():
        return [_LocalFile(path.name, path, path.stat().st_size)]
    if not path.is_dir():
        raise ClientError(
            f"{path} is neither a file nor a directory. Give a local path, or a "
            "URI such as s3://bucket/key or file:///abs/path to register in place."
        )
    files = sorted(p for p in path.rglob("*") if p.is_file())
    if not files:
        raise ClientError(f"Directory {path} holds no files; there is nothing to upload.")
    return [_LocalFile(f.relative_to(path).as_posix(), f, f.stat().st_size) for f in files]


def _check_unique(names: list[str]) -> None:
    # Checked here because the server can only say so after receiving every byte.
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ClientError(
            f"Two artifacts would share the name(s) {', '.join(repeated)}; "
            "register them from separate directories or rename one."
        )


class _Meter:
    """Adds up bytes across the files of one transfer and reports the running total."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total = total
        self.done = 0
        self.progress = progress

    def advance(self, count: int) -> None:
        self.done += count
        if self.progress is not None:
            self.progress(self.done, self.total)


class _UploadReader:
    """A file for httpx's multipart encoder: opened on first read, so only one is open at
    a time, and sized from the stat taken up front, so the request has a Content-Length.

    A file that changes size meanwhile would corrupt the request body, so it is an error.
    """

    def __init__(self, upload: _LocalFile, meter: _Meter) -> None:
        self.upload = upload
        self.meter = meter
        self.position = 0
        self._handle: IO[bytes] | None = None

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_END:  # httpx asks for the length this way
            return self.upload.size + offset
        self._close()
        self.position = offset
        return offset

    def read(self, size: int = -1) -> bytes:
        remaining = self.upload.size - self.position
        if size < 0 or size > remaining:
            size = remaining
        if size == 0:
            self._close()
            return b""
        chunk = self._open().read(size)
        if not chunk:
            raise ClientError(
                f"{self.upload.path} shrank while it was being uploaded; retry "
                "once nothing is writing to it."
            )
        self.position += len(chunk)
        self.meter.advance(len(chunk))
        return chunk

    def _open(self) -> IO[bytes]:
        if self._handle is None:
            self._handle = self.upload.path.open("rb")
            self._handle.seek(self.position)
        return self._handle

    def _close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


# --- downloads ---------------------------------------------------------------------------


@contextmanager
def _replacing(target: Path) -> Iterator[IO[bytes]]:
    """A hidden file beside target, renamed over it only once complete: a failed or
    interrupted download never leaves a truncated file under the real name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        with partial.open("xb") as handle:
            yield handle
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _copy(chunks: Iterator[bytes], handle: IO[bytes], meter: _Meter) -> tuple[int, str]:
    digest = hashlib.sha256()
    received = 0
    for chunk in chunks:
        handle.write(chunk)
        digest.update(chunk)
        received += len(chunk)
        meter.advance(len(chunk))
    return received, f"sha256:{digest.hexdigest()}"


def _check_received(item: Json, received: int, checksum: str) -> None:
    if received != item["size_bytes"]:
        raise ClientError(
            f"Download of {item['path']} is incomplete: got {received} of "
            f"{item['size_bytes']} bytes. Retry the download."
        )
    # Only a SHA-256 can be checked here; stores that know just an ETag give something else.
    expected = str(item.get("checksum", ""))
    if expected.startswith("sha256:") and expected != checksum:
        raise ClientError(
            f"Download of {item['path']} is corrupt: expected {expected}, got "
            f"{checksum}. Retry; if it persists the stored copy is damaged."
        )


# --- errors ------------------------------------------------------------------------------


def _raise_for_status(response: httpx.Response) -> None:
    if response.is_success:
        return
    response.read()  # a streamed response has no body until read
    body: Any = None
    with suppress(ValueError):  # not JSON: a proxy's error page, or Django's own 400/413 page
        body = response.json()
    if isinstance(body, dict) and body.get("message"):
        raise ApiError(response.status_code, str(body["message"]), body)
    request = response.request
    text = " ".join(response.text.split())[:200]
    if "html" in response.headers.get("content-type", ""):
        text = "the answer gave no reason; the server's log says why"
    raise ApiError(
        response.status_code,
        f"{request.method} {request.url} failed with HTTP "
        f"{response.status_code} {response.reason_phrase}: {text or 'no details'}",
    )
