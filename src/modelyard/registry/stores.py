"""Declared stores: the one rule for where modelyard reads and deletes for a team.

A URI a user gave (registered by reference, read back, scored, loaded, deleted) is used only
when every reading of it (storage.uri_readings: percent-decoded or not, `..` collapsed,
symbolic links resolved) lies strictly inside a store its team may use:

- the artifact root (`MODELYARD_ARTIFACT_ROOT`), always, but only inside the team's own
  folder `<root>/<team>/`; a URI inside the artifact root obeys this whatever else is declared;
- a store declared by `MODELYARD_STORES` or by staff (admin, /api/v1/stores, `modelyard
  stores add`), for every team or a list of teams.

Deleting asks more: the store allows deletion, and the URI is neither a store's root nor
holds one. The check runs where the bytes are touched, every time, so a rule changed or a
symbolic link moved after registration is still honoured.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction

from modelyard import storage
from modelyard.accounts.models import Team
from modelyard.audit.services import record
from modelyard.lib.errors import Conflict, Forbidden, InvalidInput, NotFound
from modelyard.registry.models import AssetVersion, DeclaredStore, LifecycleState

Actor = User | AnonymousUser | str | None
ADD_HINT = "modelyard stores add URI --team TEAM"


class StoreRefused(Forbidden):
    """A URI lies outside every store its team may use (or may delete in)."""


@dataclass(frozen=True)
class StoreRule:
    uri: str  # as declared, normalised, with a trailing slash
    location: str  # where it leads (symbolic links resolved), no trailing slash
    teams: frozenset[str] | None  # None: every team
    deletable: bool
    source: str  # "artifact root", "MODELYARD_STORES" or "declared"
    store_id: int | None = None

    @property
    def per_team(self) -> bool:
        return self.source == "artifact root"

    def may_use(self, team: Team) -> bool:
        return self.teams is None or team.name in self.teams

    def describe(self, team: Team | None = None) -> str:
        if self.per_team:
            folder = f"{self.uri}{team.name}/" if team else f"{self.uri}<team>/"
            return f"{folder} (the team's folder in the artifact root)"
        who = "all teams" if self.teams is None else ", ".join(sorted(self.teams)) or "no team"
        return f"{self.uri} ({who}{', deletable' if self.deletable else ''})"


# --- the rules ------------------------------------------------------------------------------


def current_rules() -> list[StoreRule]:
    """The artifact root first, then MODELYARD_STORES, then the stores staff declared."""
    rules = [_rule(settings.ARTIFACT_ROOT, None, True, "artifact root")]
    rules += [
        _rule(s.uri, frozenset(s.teams) if s.teams is not None else None, s.deletable, "setting")
        for s in settings.DECLARED_STORES
    ]
    for store in DeclaredStore.objects.prefetch_related("teams"):
        teams = None if store.all_teams else frozenset(t.name for t in store.teams.all())
        rules.append(_rule(store.uri, teams, store.allow_delete, "declared", store.pk))
    return rules


def _rule(
    uri: str,
    teams: frozenset[str] | None,
    deletable: bool,
    source: str,
    store_id: int | None = None,
) -> StoreRule:
    normal = storage.normalise_uri(uri)
    location = storage.uri_readings(normal)[0]  # one reading: the URI is normalised already
    shown = normal if normal.endswith("/") else normal + "/"
    return StoreRule(shown, location.rstrip("/") or location, teams, deletable, source, store_id)


def usable_rules(team: Team, rules: Sequence[StoreRule] | None = None) -> list[StoreRule]:
    return [rule for rule in rules or current_rules() if rule.may_use(team)]


# --- the checks -----------------------------------------------------------------------------


def check_usable(uri: str, team: Team, rules: Sequence[StoreRule] | None = None) -> None:
    """Raise StoreRefused unless `team` may have modelyard read or write `uri`."""
    rules = rules or current_rules()
    for reading in _readings(uri):
        problem = _problem(reading, team, rules, deleting=False)
        if problem:
            raise StoreRefused(_message(uri, reading, problem, team, rules), uri=uri)


def check_tree(uri: str, team: Team, rules: Sequence[StoreRule] | None = None) -> None:
    """check_usable, and for a file:// folder every file in it: a link inside may lead out."""
    rules = rules or current_rules()
    check_usable(uri, team, rules)
    if storage.parse_uri(uri).scheme == "file":
        for location in storage.resolved_files(uri):
            problem = _problem(location, team, rules, deleting=False)
            if problem:
                raise StoreRefused(_message(uri, location, problem, team, rules), uri=uri)


def check_references(team: Team, uris: Iterable[str]) -> None:
    """Registration by reference: each URI (and a file:// folder's files) for `team`."""
    rules = current_rules()
    for uri in uris:
        check_tree(uri, team, rules)


def check_job_uris(team_name: str, uris: Iterable[str]) -> None:
    """URIs a job of the team named reads or writes on the platform's credentials."""
    check_references(Team.objects.get(name=team_name), uris)


def check_version(version: AssetVersion) -> None:
    """Every artifact of `version` may be read for its team (loading, scoring, the gate)."""
    rules = current_rules()
    for artifact in version.artifacts.all():
        check_tree(artifact.uri, version.team, rules)


def deletion_refusal(version: AssetVersion, rules: Sequence[StoreRule] | None = None) -> str:
    """Why modelyard may not delete some artifact of `version`; empty when it may."""
    rules = rules or current_rules()
    for artifact in version.artifacts.all():
        try:
            readings = _readings(artifact.uri)
        except InvalidInput as error:
            return error.message
        for reading in readings:
            problem = _problem(reading, version.team, rules, deleting=True)
            if problem:
                return _message(artifact.uri, reading, problem, version.team, rules)
    return ""


def reach_refusal(version: AssetVersion, rules: Sequence[StoreRule] | None = None) -> str:
    """Why modelyard may not delete what deleting `version`'s artifacts reaches beyond their
    own URIs (a Hive EXTERNAL table's location); empty when it may. Asks the stores, so it
    runs when the bytes are deleted, not when a deletion is scheduled; a store that does not
    answer raises StorageError, and the deletion is retried like any failed one."""
    rules = rules or current_rules()
    for artifact in version.artifacts.all():
        for location in storage.get_store(artifact.uri).deletion_reach(artifact.uri):
            for reading in _readings(location):
                problem = _problem(reading, version.team, rules, deleting=True)
                if problem:
                    reached = f"Deleting {artifact.uri} would also delete its files: "
                    return reached + _message(location, reading, problem, version.team, rules)
    return ""


def refuse_deletion(
    version: AssetVersion, actor: Actor = "system:deletion", *, reach: bool = False
) -> bool:
    """True when `version` must not be deleted: it then stays as it is, with the reason in
    its deletion_error, audited once per distinct reason (the sweep retries it). With
    `reach`, what the deletion would reach beyond the artifacts' URIs is checked too."""
    reason = deletion_refusal(version) or (reach_refusal(version) if reach else "")
    if not reason:
        return False
    with transaction.atomic():
        changed = (
            AssetVersion.objects.filter(pk=version.pk)
            .exclude(deletion_error=reason)
            .update(deletion_error=reason)
        )
        if changed:
            record(actor, f"{version.kind}.deletion_refused", version=version, reason=reason)
    return True


def _readings(uri: str) -> tuple[str, ...]:
    """Bad input (400) rather than a refusal: no scheme, an unknown one, a control character."""
    try:
        scheme = storage.parse_uri(uri).scheme
        if scheme not in storage.supported_schemes():
            raise storage.UnsupportedScheme(scheme, uri, storage.supported_schemes())
        return storage.uri_readings(uri)
    except storage.StorageError as error:
        raise InvalidInput(str(error)) from None


def _problem(location: str, team: Team, rules: Sequence[StoreRule], *, deleting: bool) -> str:
    """What keeps `team` from using (or deleting) `location`; empty when nothing does."""
    root = rules[0]
    if storage.is_within(location, root.location):
        folder = f"{root.location}/{team.name}"
        if not storage.is_within(location, folder):
            return f"is in the artifact root but outside team '{team.name}''s folder"
        if location == folder:
            return f"is team '{team.name}''s folder itself, not a path inside it"
        return ""
    holding = [r for r in rules[1:] if r.may_use(team) and storage.is_within(location, r.location)]
    inside = [r for r in holding if location != r.location]
    if not inside:
        roots = ", ".join(r.uri for r in holding)
        return f"is the root of {roots}, not a path inside it" if holding else "outside"
    if not deleting:
        return ""
    # The innermost store decides, whoever may use it: a store declared inside another
    # one without deletion protects its bytes from the outer store's deletion.
    containing = [r for r in rules[1:] if storage.is_within(location, r.location)]
    innermost = max(containing, key=lambda r: len(r.location))
    if not innermost.deletable:
        return f"is in {innermost.uri}, where modelyard may not delete"
    held = [r.uri for r in rules if storage.is_within(r.location, location)]
    return f"holds the declared store(s) {', '.join(held)}" if held else ""


def _message(uri: str, reading: str, problem: str, team: Team, rules: Sequence[StoreRule]) -> str:
    leads = "" if reading in (uri, uri.rstrip("/")) else f" (it leads to {reading})"
    if problem == "outside":
        return (
            f"{uri}{leads} is not under a declared store that team '{team.name}' may use; "
            f"{_stores_hint(team, rules)}"
        )
    return f"{uri}{leads} {problem}. {_stores_hint(team, rules)}"


def _stores_hint(team: Team, rules: Sequence[StoreRule]) -> str:
    listing = "; ".join(rule.describe(team) for rule in usable_rules(team, rules))
    return (
        f"declared stores: {listing}; ask a staff member to declare one "
        f"({ADD_HINT.replace('TEAM', team.name)})."
    )


# --- declaring stores (staff) -----------------------------------------------------------------


@transaction.atomic
def declare_store(
    actor: Actor,
    uri: str,
    *,
    teams: Iterable[Team] | None = None,
    allow_delete: bool = False,
    description: str = "",
) -> DeclaredStore:
    """Declare a store for every team (`teams` None) or the teams given."""
    normal = checked_store_uri(uri)
    team_list = list(teams) if teams is not None else []
    store = DeclaredStore(
        uri=normal,
        all_teams=teams is None,
        allow_delete=allow_delete,
        description=description,
        created_by=actor if isinstance(actor, User) else None,
    )
    try:
        with transaction.atomic():
            store.save()
    except IntegrityError:
        raise Conflict(f"{normal} is declared already; remove it first to change it.") from None
    store.teams.set(team_list)
    record(actor, "store.declared", details=_details(store, team_list))
    return store


@transaction.atomic
def remove_store(actor: Actor, store_id: int) -> None:
    store = DeclaredStore.objects.select_for_update().filter(pk=store_id).first()
    if store is None:
        raise NotFound(f"No declared store with id {store_id}; list them with `stores list`.")
    record(actor, "store.removed", details=_details(store, list(store.teams.all())))
    store.delete()


def checked_store_uri(uri: str) -> str:
    """`uri` normalised, once it is a place a store may be: a known scheme, not the
    filesystem root, not overlapping MODELYARD_HOME (keys, database) or the artifact root."""
    try:
        normal = storage.normalise_uri(uri)
        location = storage.uri_readings(normal)[0]
    except storage.StorageError as error:
        raise InvalidInput(str(error)) from None
    scheme = storage.parse_uri(normal).scheme
    if scheme not in storage.supported_schemes():
        known = ", ".join(f"{s}://" for s in storage.supported_schemes())
        raise InvalidInput(f"{uri} has an unknown scheme; stores use one of: {known}.")
    home = "file://" + os.path.realpath(settings.HOME)
    artifact_root = _rule(settings.ARTIFACT_ROOT, None, True, "artifact root")
    if location == "file:///" or storage.is_within(home, location):
        raise InvalidInput(f"{uri} holds MODELYARD_HOME ({home}); declare a folder beside it.")
    if storage.is_within(location, home) or storage.is_within(location, artifact_root.location):
        raise InvalidInput(
            f"{uri} is inside MODELYARD_HOME or the artifact root, which modelyard manages "
            "itself (each team has its folder there); declare a folder outside them."
        )
    return normal if normal.endswith("/") else normal + "/"


def check_setting() -> None:
    """Stop the process when MODELYARD_STORES declares a place no store may be."""
    for store in settings.DECLARED_STORES:
        try:
            checked_store_uri(store.uri)
        except InvalidInput as error:
            raise ImproperlyConfigured(f"MODELYARD_STORES: {error.message}") from None


def _details(store: DeclaredStore, teams: list[Team]) -> dict[str, object]:
    return {
        "uri": store.uri,
        "teams": "all" if store.all_teams else sorted(t.name for t in teams),
        "allow_delete": store.allow_delete,
    }


# --- rows from before stores were declared --------------------------------------------------


@dataclass(frozen=True)
class Orphan:
    ref: str
    kind: str
    artifact: str
    uri: str
    reason: str


def orphans() -> Iterator[Orphan]:
    """Artifacts of versions not deleted that their team may not use: registered before
    stores were declared (or before a store was removed). They are never deleted."""
    rules = current_rules()
    versions = (
        AssetVersion.objects.exclude(lifecycle_state=LifecycleState.DELETED)
        .select_related("asset__team", "team")
        .prefetch_related("artifacts")
        .order_by("id")
    )
    for version in versions.iterator(chunk_size=500):
        for artifact in version.artifacts.all():
            try:
                check_usable(artifact.uri, version.team, rules)
            except StoreRefused as error:
                yield Orphan(version.ref, version.kind, artifact.name, artifact.uri, error.message)
