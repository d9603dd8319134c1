"""The models one server serves, each behind an environment alias, swapped when it moves.

Each model has a `Slot` whose `current` is an immutable `Served` (loaded version, its
dispatcher, its metric children). A request reads `slot.current` once and uses that object
to the end, so a swap — one reference assignment, atomic under the GIL — never changes the
model under a request in flight; the old version is freed when its last request finishes.

A server serves either the models it was named (`--models`) or, following the registry
(`--all [--team T]`), every model that has the alias: a model promoted to it joins the
fleet, one that loses it leaves (requests in flight finish on their `Served`). The slots
dict is never changed in place: a changed membership is a new dict assigned in one step,
so a request or `/v1/models` iterating the old one is never disturbed.

A watcher thread checks the aliases in the database every `poll_seconds` (one query for
the whole fleet, however many models), and at once when Redis announces a move
(lib/events.py). A new version loads on that thread, off the event
loop, and replaces the old one only once it has loaded and predicted; if it fails, the old
one keeps serving and the failure shows in `/v2/health/ready` details, `/v1/models` and the
`modelyard_model_load_failures` metric. The same failed version is retried at most every
`RETRY_FAILED_SECONDS`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import close_old_connections, connections

from modelyard.accounts.services import get_team
from modelyard.features.lookup import FeatureLookup
from modelyard.lib.errors import InvalidInput
from modelyard.registry import services as registry
from modelyard.registry.models import Alias, Asset, AssetVersion, Kind
from modelyard.registry.refs import parse_ref
from modelyard.serving import memory, metrics
from modelyard.serving.batching import Dispatcher
from modelyard.serving.loading import LoadedVersion, load_version
from modelyard.serving.models import ServingSettings
from modelyard.serving.services import serving_settings

log = logging.getLogger(__name__)
RETRY_FAILED_SECONDS = 60.0


class ServeError(InvalidInput):
    """The server cannot start as asked (unknown model, name clash…): an expected error, shown
    by the CLI's boundary as one line."""


@dataclass(frozen=True)
class Served:
    loaded: LoadedVersion
    dispatch: Dispatcher
    metrics: metrics.VersionMetrics
    # The views its features come from, when its signature names features (else None).
    features: FeatureLookup | None = None


@dataclass(slots=True)
class Slot:
    """One served model. Kept small: a server may hold thousands, most of them cold."""

    name: str
    asset_id: int
    ref: str
    max_batch_size: int = 32
    max_wait_ms: float = 0.0
    current: Served | None = None
    error: str = ""
    failed_version_id: int | None = None
    failed_at: float = 0.0
    loading_version: int | None = None
    # Memory budget: what the loaded version takes, when it last answered, and whether it
    # was unloaded to make room (then it loads again on its next request).
    footprint: int = 0
    footprint_version: int | None = None
    last_used: float = 0.0
    cold: bool = False
    warming: Any = None

    @property
    def is_loaded(self) -> bool:
        return self.current is not None

    def status(self) -> dict[str, object]:
        served = self.current
        return {
            "name": self.name,
            "model": self.ref,
            "version": served.loaded.number if served else None,
            "flavor": served.loaded.predictor.flavor if served else None,
            "load_seconds": round(served.loaded.load_seconds, 3) if served else None,
            "batching": bool(served and served.dispatch.batcher),
            "ready": served is not None or self.cold,
            "cold": self.cold,
            "footprint_mb": round(self.footprint / 2**20, 1),
            "error": self.error,
        }


@dataclass(frozen=True)
class Following:
    """Serve every model with the alias (of one team, or of all)."""

    team: str | None = None


@dataclass
class Fleet:
    alias: str
    slots: dict[str, Slot]
    poll_seconds: float = 5.0
    budget_bytes: int = 0  # 0: no memory budget, every model stays loaded
    following: Following | None = None  # None: exactly the models named at start
    by_ref: dict[str, Slot] = field(default_factory=dict)
    _load_lock: threading.Lock = field(default_factory=threading.Lock)
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def from_refs(
        cls, refs: Iterable[str], alias: str, poll_seconds: float = 5.0, budget_bytes: int = 0
    ) -> Fleet:
        slots: dict[str, Slot] = {}
        for text in refs:
            served_name, _, ref_text = text.rpartition("=") if "=" in text else ("", "", text)
            asset = _model(ref_text)
            name = served_name or asset.name
            if name in slots:
                raise ServeError(
                    f"Two models would be served as {name!r} ({slots[name].ref} and "
                    f"{asset.ref}); name one, e.g. --models {asset.team.name}-{name}={asset.ref}."
                )
            slots[name] = _slot(name, asset)
        if not slots:
            raise ServeError("No models to serve: pass --models TEAM/NAME[,TEAM/NAME…] or --all.")
        fleet = cls(alias, slots, poll_seconds, budget_bytes)
        fleet.by_ref = {slot.ref: slot for slot in slots.values()}
        return fleet

    @classmethod
    def following_registry(
        cls, alias: str, team: str | None = None, poll_seconds: float = 5.0, budget_bytes: int = 0
    ) -> Fleet:
        """A fleet of every model with `alias` (in `team`), kept so by `refresh`."""
        if team is not None:
            get_team(team)  # an unknown team is a typo, not an empty fleet
        return cls(alias, {}, poll_seconds, budget_bytes, Following(team))

    def find(self, name: str) -> Slot | None:
        """The slot served as `name`, or as TEAM/NAME (always accepted)."""
        return self.slots.get(name) or self.by_ref.get(name)

    @property
    def ready(self) -> bool:
        """Every model answers (loaded, or cold and loading on demand). Following the
        registry, a model that failed to load does not hold the others' server back: its
        error shows in /v1/models."""
        settled = self.following is not None
        return all(
            slot.current is not None or slot.cold or (settled and bool(slot.error))
            for slot in self.slots.values()
        )

    def refresh(self) -> None:
        """Load what the aliases point at now, where it differs from what is served; when
        following the registry, add the models that gained the alias and drop those that
        lost it. With a budget, a model that is not loaded and does not fit starts cold."""
        targets = self._targets()
        used = self.used_bytes()
        for slot in list(self.slots.values()):
            version_id = targets.get(slot.asset_id)
            if version_id is None:
                slot.error = f"{slot.ref} has no '{self.alias}' alias; promote a version to it."
            elif slot.cold:
                continue  # loads on its next request, from the alias as it is then
            elif self.budget_bytes and not slot.is_loaded and used >= self.budget_bytes:
                slot.cold, slot.error = True, ""
            elif self._due(slot, version_id) and self._load(slot, version_id):
                used = self.used_bytes()  # the load may have unloaded others

    def used_bytes(self) -> int:
        return sum(slot.footprint for slot in self.slots.values() if slot.is_loaded)

    def _targets(self) -> dict[int, int]:
        """asset id -> version id of the alias, for the served models (or, following the
        registry, for every model that has it: then the membership follows, too)."""
        aliases = Alias.objects.filter(name=self.alias)
        if self.following is None:
            ids = [slot.asset_id for slot in self.slots.values()]
            return dict(aliases.filter(asset_id__in=ids).values_list("asset_id", "version_id"))
        aliases = aliases.filter(asset__kind=Kind.MODEL)
        if self.following.team is not None:
            aliases = aliases.filter(asset__team__name=self.following.team)
        rows = list(
            aliases.values_list("asset_id", "version_id", "asset__team__name", "asset__name")
        )
        self._follow({asset_id: f"{team}/{name}" for asset_id, _, team, name in rows})
        return {asset_id: version_id for asset_id, version_id, _, _ in rows}

    def _follow(self, wanted: dict[int, str]) -> None:
        """Make the fleet's membership `wanted` (asset id -> TEAM/NAME), in one assignment."""
        kept = {slot.asset_id: slot for slot in self.slots.values() if slot.asset_id in wanted}
        if len(kept) == len(wanted) == len(self.slots):
            return
        for slot in self.slots.values():
            if slot.asset_id not in wanted:
                log.info("%s lost its '%s' alias: no longer served", slot.ref, self.alias)
        new = [a for a in wanted if a not in kept]
        batching = _batching(new)
        for asset_id in new:
            size, wait = batching.get(asset_id, (32, 0.0))
            kept[asset_id] = Slot("", asset_id, wanted[asset_id], size, wait)
            log.info("%s has a '%s' alias: now served", wanted[asset_id], self.alias)
        self.slots, self.by_ref = _named(kept.values())

    def load_cold(self, slot: Slot) -> None:
        """Load an unloaded model for a request that needs it (called off the event loop)."""
        close_old_connections()
        alias = Alias.objects.filter(asset_id=slot.asset_id, name=self.alias).first()
        if alias is None:
            slot.error = f"{slot.ref} has no '{self.alias}' alias; promote a version to it."
            return
        if self._load(slot, alias.version_id):
            metrics.COLD_LOADS.labels(slot.name).inc()

    def _due(self, slot: Slot, version_id: int) -> bool:
        if slot.current is not None and slot.current.loaded.version_id == version_id:
            return False
        recently_failed = time.monotonic() - slot.failed_at < RETRY_FAILED_SECONDS
        return not (slot.failed_version_id == version_id and recently_failed)

    def _load(self, slot: Slot, version_id: int) -> bool:
        with self._load_lock:  # one load at a time keeps the footprints measurable
            versions = AssetVersion.objects.select_related("asset__team")
            version = versions.prefetch_related("artifacts").get(pk=version_id)
            slot.loading_version = version.version
            before = memory.resident_bytes()
            try:
                served = _serve(slot, load_version(version), version.asset.team.name)
            except Exception as error:  # any failure keeps the old version serving
                log.exception("Could not load %s; %s keeps serving", version.ref, _serving(slot))
                metrics.LOAD_FAILURES.labels(slot.name).inc()
                slot.error = f"{version.ref} failed to load: {error}"
                slot.failed_version_id, slot.failed_at = version_id, time.monotonic()
                return False
            finally:
                slot.loading_version = None
            growth = memory.resident_bytes() - before
            # A reload may land in memory an unloaded model freed and seem to take none:
            # the same version keeps the footprint it was measured at before.
            known = slot.footprint if slot.footprint_version == version_id else 0
            slot.footprint = max(growth, version.size_bytes, known)
            slot.footprint_version = version_id
            slot.current, slot.error, slot.failed_version_id = served, "", None
            slot.cold, slot.last_used = False, time.perf_counter()  # as requests stamp it
            log.info("Serving %s as %s", version.ref, slot.name)
            self._make_room(slot)
            return True

    def _make_room(self, loaded: Slot) -> None:
        if not self.budget_bytes:
            return
        victims = memory.to_unload(self.slots.values(), loaded, self.budget_bytes)
        for victim in victims:
            assert isinstance(victim, Slot)
            # Requests in flight keep their reference to the old Served and finish on it.
            victim.current, victim.cold = None, True
            log.info("Unloaded %s (least recently used) to stay in the memory budget", victim.name)
        if victims:
            memory.release_freed()

    # --- the watcher ----------------------------------------------------------------------

    def start_watching(self) -> None:
        """Start the watcher (and the Redis listener) in this process: call after forking."""
        if self._threads:
            return
        self._threads = [threading.Thread(target=self._watch, name="alias-watch", daemon=True)]
        from django.conf import settings

        if settings.REDIS_URL:
            listener = threading.Thread(target=self._listen, name="alias-listen", daemon=True)
            self._threads.append(listener)
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _watch(self) -> None:
        try:
            self._watch_until_stopped()
        finally:
            connections.close_all()  # this thread's own connection

    def _watch_until_stopped(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                close_old_connections()
                self.refresh()
            except Exception:  # a database hiccup must not end the watcher
                log.exception("Could not check the %s aliases; retrying", self.alias)
                connections.close_all()

    def _listen(self) -> None:
        import redis
        from django.conf import settings

        from modelyard.lib.events import ALIAS_CHANNEL
        from modelyard.lib.redis import redis_client

        while not self._stop.is_set():
            try:
                pubsub = redis_client(settings.REDIS_URL).pubsub()  # type: ignore[no-untyped-call]
                pubsub.subscribe(ALIAS_CHANNEL)
                for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._wake.set()
            except redis.RedisError as error:
                log.warning("Alias announcements unavailable (%s); polling meanwhile", error)
                self._stop.wait(self.poll_seconds)


def _model(ref_text: str) -> Asset:
    ref = parse_ref(ref_text)
    if ref.version is not None or ref.alias is not None:
        raise ServeError(
            f"{ref_text}: name the model only (TEAM/NAME); the server follows its alias."
        )
    return registry.get_asset(Kind.MODEL, ref.team, ref.name)


def _batching(asset_ids: list[int]) -> dict[int, tuple[int, float]]:
    """The serving settings of new models, in one query (models without any keep defaults)."""
    rows = ServingSettings.objects.filter(asset_id__in=asset_ids)
    return {
        asset_id: (size, wait)
        for asset_id, size, wait in rows.values_list("asset_id", "max_batch_size", "max_wait_ms")
    }


def _named(slots: Iterable[Slot]) -> tuple[dict[str, Slot], dict[str, Slot]]:
    """Served names: a model's own NAME, or TEAM/NAME when models of several teams share
    it (an ambiguous short name would answer with whichever came first)."""
    ordered = sorted(slots, key=lambda slot: slot.ref)
    counts = Counter(slot.ref.partition("/")[2] for slot in ordered)
    for slot in ordered:
        short = slot.ref.partition("/")[2]
        slot.name = short if counts[short] == 1 else slot.ref
    return {slot.name: slot for slot in ordered}, {slot.ref: slot for slot in ordered}


def _slot(name: str, asset: Asset) -> Slot:
    settings = serving_settings(asset)
    return Slot(name, asset.pk, asset.ref, settings.max_batch_size, settings.max_wait_ms)


def _serve(slot: Slot, loaded: LoadedVersion, team: str) -> Served:
    children = metrics.VersionMetrics.of(slot.name, loaded.number)
    metrics.LOAD_SECONDS.labels(slot.name, str(loaded.number)).set(loaded.load_seconds)
    dispatch = Dispatcher(
        loaded.predictor.predict,
        loaded.single_row_seconds,
        slot.max_batch_size,
        slot.max_wait_ms,
        batchable=loaded.predictor.batchable,
        on_batch=children.batch_rows.observe,
    )
    refs = loaded.signature.features
    lookup = FeatureLookup.resolve(team, refs) if refs is not None else None
    return Served(loaded, dispatch, children, lookup)


def _serving(slot: Slot) -> str:
    return f"version {slot.current.loaded.number}" if slot.current else "nothing"
