"""Typed settings from the environment.

Every knob modelyard has is read here, once, through small typed helpers, so the README's
configuration table and the code cannot drift apart: each helper names the variable in its
error message when a value does not parse.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENVIRONMENTS = ("dev", "staging", "production")


class ConfigError(ValueError):
    """A MODELYARD_* variable holds a value that cannot be used."""


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def env_secret(name: str) -> str | None:
    """A credential, taken exactly as set (spaces may be part of it); None when unset or empty."""
    return os.environ.get(name) or None


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer; set it to a whole number.") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum of {minimum}.")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number; set it to e.g. 5 or 0.5.") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum of {minimum}.")
    return value


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; use one of true/false, 1/0, yes/no.")


def env_list(name: str, default: Sequence[str] = ()) -> list[str]:
    raw = os.environ.get(name, "")
    items = [item.strip() for item in raw.split(",") if item.strip()]
    return items or list(default)


def env_choice(name: str, default: str, choices: Sequence[str]) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not valid; choose one of: {', '.join(choices)}.")
    return value


def home_path() -> Path:
    """MODELYARD_HOME as configured, without creating it (for read-only look-ups)."""
    return Path(env_str("MODELYARD_HOME", ".modelyard")).expanduser().resolve()


def home() -> Path:
    """MODELYARD_HOME, created on first use: the embedded database, artifacts and keys."""
    path = home_path()
    path.mkdir(parents=True, exist_ok=True)
    return path


def secret_key(home_dir: Path) -> str:
    """MODELYARD_SECRET_KEY, or one generated once and kept under HOME (mode 0600).

    Generating it keeps `modelyard up` free of set-up steps while staying stable across
    restarts, so signed links and sessions survive a restart.
    """
    configured = env_str("MODELYARD_SECRET_KEY", "")
    if configured:
        return configured
    key_file = home_dir / "secret_key"
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


def embedded_database() -> Path:
    """The SQLite file used when MODELYARD_DATABASE_URL is unset."""
    return home_path() / "modelyard.sqlite3"


def require_database() -> None:
    """Refuse, before anything is created, to run an operator command on no database.

    Setting Django up creates MODELYARD_HOME; run from the wrong folder, an operator command
    would leave a stray `.modelyard/` there and then fail on an empty database.
    """
    if env_str("MODELYARD_DATABASE_URL", "") or embedded_database().exists():
        return
    raise ConfigError(
        f"No modelyard database at {embedded_database()}: run this where `modelyard up` runs, "
        "or set MODELYARD_HOME (or MODELYARD_DATABASE_URL) to the installation's; "
        "`modelyard migrate` creates a new one."
    )


def write_private(path: Path, text: str) -> Path:
    """Write a credential readable by this user only, even over an existing open file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


# --- the CLI's saved logins: the user's own config folder, found from any working folder ----


def user_config_dir() -> Path:
    """$XDG_CONFIG_HOME/modelyard, or ~/.config/modelyard."""
    base = env_str("XDG_CONFIG_HOME", "")
    return (Path(base).expanduser() if base else Path.home() / ".config") / "modelyard"


def logins_path() -> Path:
    return user_config_dir() / "logins.json"


def _logins() -> dict[str, Any]:
    path = logins_path()
    if not path.is_file():
        return {"default": None, "tokens": {}}
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or not isinstance(data.get("tokens"), dict):
            raise ValueError("not a logins file")
    except ValueError:
        raise ConfigError(
            f"{path} is not a modelyard logins file; delete it and sign in again with "
            "`modelyard login URL`."
        ) from None
    return data


def login_url() -> str | None:
    """The server of the last `modelyard login` (or `modelyard up`), if any."""
    url = _logins().get("default")
    return url if isinstance(url, str) else None


def login_token(url: str) -> str | None:
    """The token saved for that server: a token is never sent to a server it was not saved for."""
    token = _logins()["tokens"].get(url.rstrip("/"))
    return token if isinstance(token, str) and token else None


def save_login(url: str, token: str) -> Path:
    """Remember the token for URL and make URL the CLI's default server."""
    data = _logins()
    url = url.rstrip("/")
    data["default"] = url
    data["tokens"][url] = token
    return write_private(logins_path(), json.dumps(data, indent=2) + "\n")


DEFAULT_SERVING_URL = "http://127.0.0.1:8080"


def serving_url() -> str:
    """The prediction server `modelyard predict` asks: MODELYARD_SERVE_URL, else the one
    `modelyard up` saved, else a local `modelyard serve`'s default."""
    saved = _logins().get("serving")
    return (
        env_str("MODELYARD_SERVE_URL", "")
        or (saved if isinstance(saved, str) else "")
        or (DEFAULT_SERVING_URL)
    )


def save_serving_url(url: str) -> Path:
    """Remember the prediction server of this machine's `up` (no credential: it has none)."""
    data = _logins()
    data["serving"] = url.rstrip("/")
    return write_private(logins_path(), json.dumps(data, indent=2) + "\n")


def artifact_root(home_dir: Path) -> str:
    default = (home_dir / "artifacts").as_uri()
    return env_str("MODELYARD_ARTIFACT_ROOT", default).rstrip("/")


def database_url(home_dir: Path) -> str:
    return env_str("MODELYARD_DATABASE_URL", f"sqlite:///{home_dir / 'modelyard.sqlite3'}")


def broker_url(home_dir: Path) -> str:
    # kombu's SQLAlchemy-free filesystem transport: a broker that needs no server.
    return env_str("MODELYARD_BROKER_URL", "filesystem://localhost/")


def redis_url(broker: str) -> str:
    """Where access records are merged and promotions announced: MODELYARD_REDIS_URL, else the
    broker when it is Redis; empty means each process writes its own and servers only poll."""
    return env_str("MODELYARD_REDIS_URL", broker if broker.startswith("redis") else "")


def features_online_store(redis: str) -> str:
    """Where the feature store keeps its online tiles: `database` (the embedded default) or a
    Redis URL; unset, Redis when a Redis URL is configured (MODELYARD_REDIS_URL)."""
    name = "MODELYARD_FEATURES_ONLINE_STORE"
    choice = env_str(name, redis or "database")
    if choice != "database" and not choice.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            f"{name}={choice!r} is not an online store; use `database` or a redis:// URL."
        )
    return choice


TEAM_CREATION = ("staff", "anyone")


@dataclass(frozen=True)
class StoreSetting:
    """One store declared by MODELYARD_STORES: a URI prefix, its teams (None: every team),
    and whether modelyard may delete there."""

    uri: str
    teams: tuple[str, ...] | None
    deletable: bool


def declared_stores(name: str = "MODELYARD_STORES") -> list[StoreSetting]:
    """``URI [teams=a,b|all] [delete=yes|no]`` entries separated by ``;`` or new lines."""
    entries = [e.strip() for e in os.environ.get(name, "").replace("\n", ";").split(";")]
    return [_store_setting(name, entry) for entry in entries if entry]


def _store_setting(name: str, entry: str) -> StoreSetting:
    uri, *options = entry.split()
    if "://" not in uri:
        raise ConfigError(f"{name}: {uri!r} is not a URI; write e.g. s3://lake/models/.")
    teams: tuple[str, ...] | None = None
    deletable = False
    for option in options:
        key, _, value = option.partition("=")
        if key == "teams" and value:
            teams = None if value == "all" else tuple(t for t in value.split(",") if t)
        elif key == "delete" and value.lower() in _TRUE | _FALSE:
            deletable = value.lower() in _TRUE
        else:
            raise ConfigError(
                f"{name}: {option!r} in {entry!r} is not an option; use teams=a,b (or "
                "teams=all) and delete=yes|no, e.g. 's3://lake/models/ teams=red delete=yes'."
            )
    return StoreSetting(uri, teams, deletable)


def sandbox_memory_mb() -> int:
    """Address space a sandboxed model process may use (loading/sandbox.py)."""
    return env_int("MODELYARD_SANDBOX_MEMORY_MB", 4096, minimum=256)


def sandbox_timeout_seconds() -> float:
    """How long one request to a sandboxed model (load, predict, convert) may take."""
    return env_float("MODELYARD_SANDBOX_TIMEOUT_SECONDS", 600.0, minimum=1.0)


def sandbox_user() -> str:
    """Who sandboxed model code runs as when modelyard runs as root."""
    return env_str("MODELYARD_SANDBOX_USER", "nobody")


def features_engine_memory_mb() -> int:
    """Memory the offline feature engine (DuckDB) may hold before it spills to disk."""
    return env_int("MODELYARD_FEATURES_ENGINE_MEMORY_MB", 512, minimum=64)


def features_engine_threads() -> int:
    """Threads of the offline feature engine (training sets, backfills, mirrors)."""
    return env_int("MODELYARD_FEATURES_ENGINE_THREADS", 2, minimum=1)


def features_environments() -> dict[str, str]:
    """Other deployments whose raw event logs `modelyard features mirror` and `diff` read:
    `name=artifact-root-URI` pairs separated by spaces or commas."""
    found = {}
    raw = os.environ.get("MODELYARD_FEATURES_ENVIRONMENTS", "")
    for entry in raw.replace(",", " ").split():
        name, equals, uri = entry.partition("=")
        if not equals or not name or "://" not in uri:
            raise ConfigError(
                f"MODELYARD_FEATURES_ENVIRONMENTS: {entry!r} is not NAME=URI; write e.g. "
                "'production=s3://prod-bucket/artifacts staging=file:///srv/modelyard/artifacts'."
            )
        found[name] = uri
    return found
