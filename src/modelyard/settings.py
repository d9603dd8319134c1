"""Django settings, all derived from MODELYARD_* environment variables (see config.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext

from modelyard import config
from modelyard.lib.mail import email_settings

# Lets admin and queryset classes be subscripted for type hints at run time.
django_stubs_ext.monkeypatch()

HOME: Path = config.home()
BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = config.secret_key(HOME)
ENVIRONMENT = config.env_choice("MODELYARD_ENVIRONMENT", "dev", config.ENVIRONMENTS)
DEBUG = config.env_bool("MODELYARD_DEBUG", False)
BASE_URL = config.env_str("MODELYARD_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
ALLOWED_HOSTS = config.env_list("MODELYARD_ALLOWED_HOSTS", ["*"])
CSRF_TRUSTED_ORIGINS = [BASE_URL]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    # django-ninja as an app so the API docs page uses the Swagger UI files it ships (served
    # by whitenoise) instead of a CDN: the page must work without internet.
    "ninja",
    "modelyard.accounts",
    "modelyard.audit",
    "modelyard.registry",
    "modelyard.lifecycle",
    "modelyard.deployment",
    "modelyard.serving",
    "modelyard.jobs",
    "modelyard.features",
    "modelyard.monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "modelyard.api.middleware.RefuseControlCharacters",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "modelyard.audit.context.RequestLineMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "modelyard.urls"
WSGI_APPLICATION = "modelyard.wsgi.application"

TEMPLATES: list[dict[str, Any]] = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = config.database_url(HOME)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the web process read while the worker writes; the timeout rides out
    # short write locks instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "registry:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = HOME / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Uploads above this size are spooled to a temporary file, never held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 32 * 1024 * 1024
# A model directory can hold thousands of files (shards, tokenizers, assets).
DATA_UPLOAD_MAX_NUMBER_FILES = 10_000

# --- modelyard ---------------------------------------------------------------------------
ARTIFACT_ROOT = config.artifact_root(HOME)
ADMIN_EMAILS = config.env_list("MODELYARD_ADMIN_EMAILS")
ACCESS_FLUSH_SECONDS = config.env_float("MODELYARD_ACCESS_FLUSH_SECONDS", 5.0, minimum=0.1)
BROKER_URL = config.broker_url(HOME)
REDIS_URL = config.redis_url(BROKER_URL)
# The feature store's online tiles: `database` or a Redis URL (features/online_stores.py).
FEATURES_ONLINE_STORE = config.features_online_store(REDIS_URL)
API_PAGE_SIZE_MAX = 500
# A flood of refused requests writes at most this many access.denied rows per actor a minute.
AUDIT_DENIALS_PER_MINUTE = config.env_int("MODELYARD_AUDIT_DENIALS_PER_MINUTE", 20, minimum=1)
# Monitoring: the prediction log of `modelyard serve` (monitoring/log.py), the width of the
# summaries' windows and how often beat evaluates the monitors.
PREDICTION_LOG = config.env_bool("MODELYARD_PREDICTION_LOG", False)
PREDICTION_LOG_BUFFER = config.env_int("MODELYARD_PREDICTION_LOG_BUFFER", 100_000, minimum=1)
PREDICTION_LOG_FLUSH_SECONDS = config.env_float(
    "MODELYARD_PREDICTION_LOG_FLUSH_SECONDS", 5.0, minimum=0.1
)
MONITORING_WINDOW_SECONDS = config.env_int("MODELYARD_MONITORING_WINDOW_SECONDS", 60, minimum=1)
MONITOR_EVALUATION_SECONDS = config.env_float(
    "MODELYARD_MONITOR_EVALUATION_SECONDS", 60.0, minimum=1.0
)
# Where modelyard may read and delete besides ARTIFACT_ROOT (registry/stores.py); the
# admin and /api/v1/stores declare more in the database.
DECLARED_STORES = config.declared_stores()
# Who may create teams through the API and `modelyard teams create`: staff, or anyone.
TEAM_CREATION = config.env_choice("MODELYARD_TEAM_CREATION", "staff", config.TEAM_CREATION)
# The prediction server loads models in its own process (it must be fast); with this on it
# refuses any model that is not ONNX, so no pickled code runs there (README: Security).
SERVE_ONNX_ONLY = config.env_bool("MODELYARD_SERVE_ONNX_ONLY", False)

# --- mail ----------------------------------------------------------------------------------
# Backend, host, port, credentials, TLS and timeout all come from one URL (lib/mail.py);
# empty keeps mail as .eml files in HOME/outbox and prints a line per message.
EMAIL_URL = config.env_str("MODELYARD_EMAIL_URL", "")
globals().update(email_settings(EMAIL_URL, HOME))
DEFAULT_FROM_EMAIL = config.env_str("MODELYARD_EMAIL_FROM", "modelyard <modelyard@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
LIFECYCLE_SCAN_SECONDS = config.env_float("MODELYARD_LIFECYCLE_SCAN_SECONDS", 86400, minimum=60)

# --- Jobs ----------------------------------------------------------------------------------
MAX_CONCURRENT_RUNS = config.env_int("MODELYARD_MAX_CONCURRENT_RUNS", 15, minimum=1)
MAX_RUNS_PER_TEAM = config.env_int("MODELYARD_MAX_RUNS_PER_TEAM", MAX_CONCURRENT_RUNS, minimum=1)
RUN_HEARTBEAT_SECONDS = config.env_float("MODELYARD_RUN_HEARTBEAT_SECONDS", 5.0, minimum=0.1)
RUN_HEARTBEAT_TIMEOUT = config.env_float("MODELYARD_RUN_HEARTBEAT_TIMEOUT", 60.0, minimum=1)
RUN_EXECUTOR = config.env_str("MODELYARD_RUN_EXECUTOR", "modelyard.jobs.executors.CeleryExecutor")
RUN_START = config.env_choice("MODELYARD_RUN_START", "warm", ("warm", "fresh"))

# --- Celery --------------------------------------------------------------------------------
CELERY_BROKER_URL = BROKER_URL
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {}
if BROKER_URL.startswith("filesystem"):
    _queue_dir = HOME / "broker"
    for _sub in ("queue", "processed", "control"):
        (_queue_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "processed_folder": str(_queue_dir / "processed"),
        # Exchange bindings; kombu's default is ./control in whatever directory we run in.
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "modelyard.registry.tasks.delete_version_bytes": {"queue": "deletions"},
    "modelyard.jobs.tasks.execute_run": {"queue": "runs"},
    # A burst of events must not delay dispatching (default queue): they queue apart.
    "modelyard.jobs.tasks.handle_event": {"queue": "events"},
}
# Celery's Django fixup closes the connection around every task unless this is set; it then
# does so every 2 x this many tasks. modelyard.celery closes connections as Django does
# between requests (CONN_MAX_AGE) instead.
CELERY_DB_REUSE_MAX = 1_000_000_000
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": config.env_str("MODELYARD_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
