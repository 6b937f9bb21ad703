"""Settings shared by every environment.

With no environment variable set, Timbre runs on one machine: SQLite, Celery over kombu's
filesystem transport and local media, all inside the data directory. DATABASE_URL, REDIS_URL and
CELERY_BROKER_URL switch to the real services.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from config.env import env
from config.logs import LOG_FORMATS, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = Path(env.str("TIMBRE_DATA_DIR", default=str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _dev_secret_key() -> str:
    """A random key generated once and kept in the data directory (local use only)."""
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or _dev_secret_key()
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
SITE_ID = 1

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "corsheaders",
    "csp",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc as static files: the docs work offline
    "pgtrigger",  # on PostgreSQL, triggers keep the audit table append-only
    "audit",
    "accounts",
    "voices",
    "provenance",
    "synthesis",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "config.security.PermissionsPolicyMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.RequestIdMiddleware",
    "config.middleware.ApiVersionMiddleware",
    # Outside CommonMiddleware, so that its APPEND_SLASH redirects happen first.
    "config.middleware.ApiErrorShapeMiddleware",
    "config.textcheck.ControlCharactersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "config.security.StaffMfaMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'timbre.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web and workers write concurrently: WAL plus IMMEDIATE transactions avoid "database is
    # locked" errors that DEFERRED transactions hit when two processes upgrade to a write lock.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits, engine status) ----------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            # Fails open: a Redis outage turns rate limiting off (with a warning), never a 500.
            "BACKEND": "config.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 2.0},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env.choice(
    "ACCOUNT_EMAIL_VERIFICATION", choices=["mandatory", "optional", "none"], default="mandatory"
)
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Timbre] "
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"

# --- Email ----------------------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Timbre <noreply@localhost>")
# Operators mailed about a broken audit chain (and Django's own error mails): comma-separated.
ADMINS = [(address, address) for address in env.list("ADMINS", default=[])]
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- i18n / time ----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if env.str("AWS_STORAGE_BUCKET_NAME", default=""):
    # Any S3-compatible store (MinIO, Ceph, AWS); credentials come from AWS_ACCESS_KEY_ID and
    # AWS_SECRET_ACCESS_KEY, which boto3 reads itself.
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            # "path" for stores that have no per-bucket host names (MinIO, most self-hosted).
            "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default="") or None,
            "default_acl": None,
            "querystring_auth": True,
            # A taken name gets a suffix, as on the filesystem: a late duplicate of a job must
            # not replace (and then delete) the audio another worker stored under that name.
            "file_overwrite": False,
            # A file read from the bucket spills to a temporary file past this size, not to RAM
            # (downloads of book-length audio).
            "max_memory_size": env.int("AWS_S3_MAX_MEMORY_SIZE", default=16 * 1024 * 1024),
        },
    }

# --- Celery ---------------------------------------------------------------------------------
BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    BROKER_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        "store_processed": False,
        # Exchange files; kombu would otherwise write them into the current directory.
        "control_folder": str(BROKER_DIR) + "/control",
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Redis redelivers an unacked task after this long; it must exceed the longest task. A whole
    # worker killed mid-job is recovered sooner by the outbox sweeper (SYNTHESIS_STALE_SECONDS).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 4 * 3600}
else:
    # RabbitMQ (amqp://), the production broker: publisher confirms, so an accepted publish is
    # on the broker; a consumer that dies has its unacked message redelivered at once.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
# Engines load in a background thread of each pool process, so a new process answers at once;
# this is only the ceiling Celery waits for a replacement process to say it is up.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = env.float("CELERY_WORKER_PROC_ALIVE_TIMEOUT", default=60.0)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=3 * 3600)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=3 * 3600 + 300)

# --- API ------------------------------------------------------------------------------------
API_VERSION = "1.0"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.api.auth.HasScope",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "config.drf.StrictLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_METADATA_CLASS": "config.drf.ApiMetadata",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Timbre API",
    "DESCRIPTION": "Self-hosted voice cloning and speech synthesis.",
    "VERSION": API_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from our own static files (drf-spectacular-sidecar), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No validator badge: it would ask validator.swagger.io about our schema.
    "SWAGGER_UI_SETTINGS": {
        "persistAuthorization": True,
        "deepLinking": True,
        "validatorUrl": None,
    },
}

# --- Logging --------------------------------------------------------------------------------
# One line per record with its request id, secrets scrubbed (config/logs.py), web and workers.
# LOG_FORMAT: "plain" (readable; the default here, for `make run`) or "json" (one JSON object
# per line; the production settings' default).
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.choice("LOG_FORMAT", choices=LOG_FORMATS, default="plain")
LOGGING = logging_config(fmt=LOG_FORMAT, level=LOG_LEVEL)

# --- Timbre ---------------------------------------------------------------------------------
TIMBRE_DEFAULT_PLAN = env.str("TIMBRE_DEFAULT_PLAN", default="free")
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
ACCOUNT_ALLOW_SIGNUP = env.bool("ACCOUNT_ALLOW_SIGNUP", default=True)

# --- Speech engines (read by synthesis workers only) --------------------------------------
XTTS_MODEL_DIR = env.str("XTTS_MODEL_DIR", default="")
# Accepting the Coqui Public Model License (non-commercial) allows a one-time download.
XTTS_ACCEPT_LICENSE = env.bool("XTTS_ACCEPT_LICENSE", default=False) or env.bool(
    "COQUI_TOS_AGREED", default=False
)
XTTS_DOWNLOAD_DIR = env.str("XTTS_DOWNLOAD_DIR", default=str(DATA_DIR / "models"))
TIMBRE_DEVICE = env.choice("TIMBRE_DEVICE", choices=["auto", "cpu", "cuda"], default="auto")
XTTS_HALF = env.bool("XTTS_HALF", default=False)
XTTS_DEEPSPEED = env.bool("XTTS_DEEPSPEED", default=False)
XTTS_MAX_BATCH = env.int("XTTS_MAX_BATCH", default=8)
# Chatterbox Multilingual (MIT weights): a model directory, or a one-time download of
# ResembleAI/chatterbox into CHATTERBOX_DOWNLOAD_DIR when CHATTERBOX_DOWNLOAD is true.
CHATTERBOX_MODEL_DIR = env.str("CHATTERBOX_MODEL_DIR", default="")
CHATTERBOX_DOWNLOAD = env.bool("CHATTERBOX_DOWNLOAD", default=False)
CHATTERBOX_DOWNLOAD_DIR = env.str(
    "CHATTERBOX_DOWNLOAD_DIR", default=str(DATA_DIR / "models" / "chatterbox")
)
# Most speech tokens (25 a second) one chunk may generate: upstream's own limit is 1000.
CHATTERBOX_MAX_NEW_TOKENS = env.int("CHATTERBOX_MAX_NEW_TOKENS", default=1000)
# Speech engines this deployment runs: one package per engine under synthesis/engines/ (or any
# importable package exposing FACTS). The web reads their facts; synthesis workers load them.
TIMBRE_ENGINES = env.list(
    "TIMBRE_ENGINES",
    default=["synthesis.engines.xtts", "synthesis.engines.chatterbox", "synthesis.engines.piper"],
)
SYNTHESIS_MAX_CHARACTERS = env.int("SYNTHESIS_MAX_CHARACTERS", default=1_000_000)
# Commercial mode: true leaves out every engine whose weights forbid commercial use (XTTS v2):
# no worker loads it, no model list names it, and requests naming it are refused.
TIMBRE_COMMERCIAL_ONLY = env.bool("TIMBRE_COMMERCIAL_ONLY", default=False)
# Engines this worker loads (names, e.g. "xtts"); empty: every installed engine. A synthesis
# worker consumes `synthesis` plus `synthesis.<engine>` for each of them.
TIMBRE_WORKER_ENGINES = env.list("TIMBRE_WORKER_ENGINES", default=[])

# --- Nothing lost: the outbox sweeper (beat) -----------------------------------------------
# A running job's worker writes a heartbeat this often, from a thread, whatever the chunk size.
SYNTHESIS_HEARTBEAT_SECONDS = env.float("SYNTHESIS_HEARTBEAT_SECONDS", default=10.0)
# A running job without a heartbeat for this long lost its worker: it is re-queued (or ended).
SYNTHESIS_STALE_SECONDS = env.int("SYNTHESIS_STALE_SECONDS", default=60)
# A job interrupted this many times (worker crashes) fails with a refund instead of a re-run.
SYNTHESIS_MAX_ATTEMPTS = env.int("SYNTHESIS_MAX_ATTEMPTS", default=3)
# Serving many users at once (synthesis.serving): a synthesis worker run with `--pool threads
# -c SYNTHESIS_JOB_THREADS` hands every job's chunks to one engine thread per engine, which
# batches the chunks of all running jobs. Off: each job calls the engine itself (prefork -c 1).
SYNTHESIS_SCHEDULER = env.bool("SYNTHESIS_SCHEDULER", default=False)
# Job threads of such a worker: about twice the engine's batch limit keeps the batch full.
SYNTHESIS_JOB_THREADS = env.int("SYNTHESIS_JOB_THREADS", default=16)
# A queued job is sent again when no worker has claimed it this long after its last send.
SYNTHESIS_REDISPATCH_SECONDS = env.int("SYNTHESIS_REDISPATCH_SECONDS", default=900)
# A job no worker has taken this long after it was accepted fails with a refund.
SYNTHESIS_QUEUED_MAX_SECONDS = env.int("SYNTHESIS_QUEUED_MAX_SECONDS", default=24 * 3600)
# How often beat runs the sweeper; rows younger than the grace are left to their own send.
OUTBOX_SWEEP_SECONDS = env.float("OUTBOX_SWEEP_SECONDS", default=30.0)
OUTBOX_GRACE_SECONDS = env.float("OUTBOX_GRACE_SECONDS", default=10.0)
# A sample still in intake this long after its last send is sent again; after the max, rejected.
SAMPLE_INTAKE_STALE_SECONDS = env.int("SAMPLE_INTAKE_STALE_SECONDS", default=600)
SAMPLE_INTAKE_MAX_SECONDS = env.int("SAMPLE_INTAKE_MAX_SECONDS", default=3 * 3600)
# A voice still building this long after its last send is sent again; after the max, failed.
VOICE_BUILD_STALE_SECONDS = env.int("VOICE_BUILD_STALE_SECONDS", default=900)
VOICE_BUILD_MAX_SECONDS = env.int("VOICE_BUILD_MAX_SECONDS", default=24 * 3600)

# --- Voices ---------------------------------------------------------------------------------
# Without a recorded consent statement (read aloud, with a one-time phrase, by the same speaker
# as the samples) no voice is built. Turn off only where consent is collected some other way.
VOICES_CONSENT_RECORDING_REQUIRED = env.bool("VOICES_CONSENT_RECORDING_REQUIRED", default=True)
# Cosine similarity (resemblyzer) the consent recording must reach against the samples.
VOICES_SPEAKER_MATCH_THRESHOLD = env.float("VOICES_SPEAKER_MATCH_THRESHOLD", default=0.75)
# A new sample or consent recording whose speaker embedding is at least this similar (cosine,
# resemblyzer) to an active protected voice is refused and flagged (voices.services.protected).
PROTECTED_VOICE_THRESHOLD = env.float("PROTECTED_VOICE_THRESHOLD", default=0.80)
VOICES_CONSENT_PHRASE_TTL_SECONDS = env.int("VOICES_CONSENT_PHRASE_TTL_SECONDS", default=900)
VOICES_CONSENT_MIN_SPEECH_SECONDS = env.float("VOICES_CONSENT_MIN_SPEECH_SECONDS", default=3.0)
VOICES_SAMPLE_MIN_SPEECH_SECONDS = env.float("VOICES_SAMPLE_MIN_SPEECH_SECONDS", default=6.0)
VOICES_SAMPLE_MAX_SECONDS = env.float("VOICES_SAMPLE_MAX_SECONDS", default=300.0)
VOICES_SAMPLE_DENOISE = env.bool("VOICES_SAMPLE_DENOISE", default=False)
# The engine new cloned voices are built with (a name from TIMBRE_ENGINES); empty: the first
# installed engine that clones.
VOICES_CLONING_ENGINE = env.str("VOICES_CLONING_ENGINE", default="")
# The default cloning model (an engine name or model id); empty: VOICES_CLONING_ENGINE, else the
# first installed cloning engine (voices.selectors.default_model). New voices are built for it;
# a request naming no model is spoken by it when its voice is built for it.
TIMBRE_DEFAULT_MODEL = env.str("TIMBRE_DEFAULT_MODEL", default="")
VOICES_MAX_SAMPLES_PER_VOICE = env.int("VOICES_MAX_SAMPLES_PER_VOICE", default=10)

# --- Provenance -----------------------------------------------------------------------------
# Every output carries resemble-perth's inaudible watermark (applied in the synthesis worker;
# engines that mark their own output are not marked twice). Off only for the whole deployment.
PROVENANCE_WATERMARK = env.bool("PROVENANCE_WATERMARK", default=True)
# Perth's detector answers a confidence in 0..1; at or above this, a file counts as watermarked.
PROVENANCE_WATERMARK_THRESHOLD = env.float("PROVENANCE_WATERMARK_THRESHOLD", default=0.5)
# Content credentials (C2PA) signed into wav, mp3 and flac outputs: a PEM private key and its
# PEM certificate chain (signing certificate first). Files that do not exist: outputs are
# unsigned (not an error). `manage.py provenance_keys` writes an untrusted trial pair to the
# default paths.
_C2PA_DIR = DATA_DIR / "c2pa"
PROVENANCE_C2PA_KEY = env.str("PROVENANCE_C2PA_KEY", default=str(_C2PA_DIR / "signer-key.pem"))
PROVENANCE_C2PA_CERT = env.str("PROVENANCE_C2PA_CERT", default=str(_C2PA_DIR / "signer-chain.pem"))
PROVENANCE_C2PA_ALG = env.choice("PROVENANCE_C2PA_ALG", choices=["es256", "ps256"], default="es256")
# Root certificates (PEM file) the detector trusts when it reads credentials (default: the trial
# root provenance_keys writes); otherwise a valid manifest reads "Valid", not "Trusted".
PROVENANCE_C2PA_TRUST_ANCHORS = env.str(
    "PROVENANCE_C2PA_TRUST_ANCHORS", default=str(_C2PA_DIR / "trial-root.pem")
)
# POST /api/v1/provenance/detect and /provenance/check/ wait this long for an audio worker.
PROVENANCE_DETECT_WAIT_SECONDS = env.float("PROVENANCE_DETECT_WAIT_SECONDS", default=60.0)
# Longest file the detector takes; the same limit as a voice sample unless set.
PROVENANCE_DETECT_MAX_SECONDS = env.float(
    "PROVENANCE_DETECT_MAX_SECONDS", default=VOICES_SAMPLE_MAX_SECONDS
)

# --- Stock voices ---------------------------------------------------------------------------
# Extra Piper voices (X.onnx + X.onnx.json) beside the bundled en_US-joe-medium voice.
PIPER_VOICES_DIR = env.str("PIPER_VOICES_DIR", default="")

# --- Compatibility APIs ---------------------------------------------------------------------
# Synthesis parameters (a JSON object, e.g. {"temperature": 0.7}) every job starts from, on
# every surface (native API, dashboard, batches, OpenAI/ElevenLabs-compatible /v1/ APIs); a
# request's own values win, and each engine takes only the parameters it declares. Tests use it
# to fix max_new_tokens, which the public APIs do not expose.
SYNTHESIS_DEFAULT_PARAMS = env.json("SYNTHESIS_DEFAULT_PARAMS", default={})

# --- Synthesis API --------------------------------------------------------------------------
# Longest text POST /api/v1/synthesis/stream takes (longer texts go through a job).
SYNTHESIS_STREAM_MAX_CHARACTERS = env.int("SYNTHESIS_STREAM_MAX_CHARACTERS", default=5_000)
# How long a stream waits for its first audio before answering 503 (no synthesis worker).
SYNTHESIS_STREAM_FIRST_TIMEOUT = env.float("SYNTHESIS_STREAM_FIRST_TIMEOUT", default=120.0)
# Most text one WebSocket stream-input connection takes in all (synthesis.compat.stream_input).
STREAM_INPUT_MAX_CHARACTERS = env.int("STREAM_INPUT_MAX_CHARACTERS", default=100_000)
SYNTHESIS_BATCH_MAX_ITEMS = env.int("SYNTHESIS_BATCH_MAX_ITEMS", default=50)
# How long POST /v1/voices/add (ElevenLabs' ivc.create) waits for intake and the build, in all,
# when no consent recording is required: its clients use the voice on the next line.
COMPAT_VOICE_ADD_WAIT_SECONDS = env.float("COMPAT_VOICE_ADD_WAIT_SECONDS", default=120.0)
# Largest JSON body the API reads (Django's own default, 2.5 MB): over it, a 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
# Webhooks go to public addresses only unless this is on (services on your own network).
WEBHOOKS_ALLOW_PRIVATE = env.bool("WEBHOOKS_ALLOW_PRIVATE", default=False)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=6)
# Retries wait base, 2x base, 4x base ... seconds, at most the max.
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=30.0)
WEBHOOK_RETRY_MAX_SECONDS = env.float("WEBHOOK_RETRY_MAX_SECONDS", default=3600.0)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Rate limits (django-ratelimit on the default cache; "<count>/<s|m|h|d>").
RATE_LIMIT_API = env.str("RATE_LIMIT_API", default="120/m")  # per user, all keys together
RATE_LIMIT_API_KEY = env.str("RATE_LIMIT_API_KEY", default="120/m")  # per API key
RATE_LIMIT_LOGIN = env.str("RATE_LIMIT_LOGIN", default="10/m")  # login POSTs per client IP
RATE_LIMIT_SIGNUP = env.str("RATE_LIMIT_SIGNUP", default="10/m")  # signup POSTs per client IP
# Checks on the public /provenance/check/ page, per client IP.
RATE_LIMIT_PROVENANCE_CHECK = env.str("RATE_LIMIT_PROVENANCE_CHECK", default="10/m")
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
# A cache outage must not lock every user out; limits resume when the cache is back.
RATELIMIT_FAIL_OPEN = True
if CACHES["default"]["BACKEND"].endswith("FileBasedCache"):
    # The file cache drops random entries past MAX_ENTRIES (300 by default), live rate-limit
    # counters included; give it room. (Redis evicts nothing that has not expired.)
    CACHES["default"].setdefault("OPTIONS", {}).setdefault("MAX_ENTRIES", 100_000)
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = ["accounts.ratelimits.ApiRateThrottle"]
MIDDLEWARE += [
    "accounts.ratelimits.AuthRateLimitMiddleware",
    "accounts.ratelimits.RateLimitHeadersMiddleware",
]
# Periodic work for `celery -A config beat` (Procfile): expired outputs are deleted.
CELERY_BEAT_SCHEDULE = {
    "synthesis-retention-sweep": {
        "task": "synthesis.housekeeping.retention_sweep",
        "schedule": env.float("RETENTION_SWEEP_SECONDS", default=3600.0),
    },
    "outbox-sweep": {
        "task": "synthesis.housekeeping.outbox_sweep",
        "schedule": OUTBOX_SWEEP_SECONDS,
        "options": {"expires": OUTBOX_SWEEP_SECONDS},
    },
    # Re-verifies the audit log's hash chain; a broken chain opens an alert in the admin.
    "audit-verify": {
        "task": "audit.tasks.verify_chain",
        "schedule": env.float("AUDIT_VERIFY_SECONDS", default=3600.0),
    },
}

# --- Security: headers, CSP, CORS, two-factor (production.py adds HTTPS, HSTS, cookies) ----------
from corsheaders.defaults import default_headers as _cors_default_headers  # noqa: E402
from csp.constants import NONE as _NONE  # noqa: E402
from csp.constants import SELF as _SELF  # noqa: E402

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Page scripts take the CSRF token from the form's hidden input; no script reads the cookie.
CSRF_COOKIE_HTTPONLY = True
# No inline scripts or styles anywhere: every page's code and CSS is under static/. Recorded
# audio plays from blob: URLs; allauth's TOTP QR code is a data: image.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [_SELF],
        "script-src": [_SELF],
        "style-src": [_SELF],
        "img-src": [_SELF, "data:", "blob:"],
        "media-src": [_SELF, "blob:"],
        "connect-src": [_SELF],
        "font-src": [_SELF],
        "object-src": [_NONE],
        "base-uri": [_SELF],
        "form-action": [_SELF],
        "frame-ancestors": [_NONE],
    },
}
# Pages that record audio in the browser: the only ones allowed the microphone.
PERMISSIONS_POLICY_MICROPHONE_VIEWS = ["voices:new", "voices:detail", "voices:sample_record"]
# CORS for browser clients of the API on other origins (django-cors-headers): only these origins
# ("https://app.example.com"), only the API, with the API key headers.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/(api|v1|v2)/.*$"
CORS_ALLOW_HEADERS = [*_cors_default_headers, "xi-api-key", "x-request-id"]
CORS_EXPOSE_HEADERS = [
    "x-request-id",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "retry-after",
]
CORS_ALLOW_CREDENTIALS = False
# No user enumeration (ACCOUNT_PREVENT_ENUMERATION above): a signup with a taken email does the
# same work (a password hash) as a new one.
ACCOUNT_FORMS = {"signup": "accounts.allauth_forms.SignupForm"}
# Optional two-factor authentication (allauth.mfa): an authenticator app and recovery codes.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="Timbre")
# On: a staff user without an authenticator app is sent to set one up before any admin page.
TIMBRE_REQUIRE_MFA_FOR_STAFF = env.bool("TIMBRE_REQUIRE_MFA_FOR_STAFF", default=False)
# Password reset requests: per client IP and per email address asked for.
RATE_LIMIT_PASSWORD_RESET = env.str("RATE_LIMIT_PASSWORD_RESET", default="5/m")
RATE_LIMIT_PASSWORD_RESET_EMAIL = env.str("RATE_LIMIT_PASSWORD_RESET_EMAIL", default="5/h")

# --- Health and metrics (ops) ---------------------------------------------------------------
# /health/live, /health/ready and /metrics (ops/); its middleware comes first: request timing
# around everything, then the ops endpoints ahead of the host check and HTTPS redirect.
INSTALLED_APPS += ["ops"]
MIDDLEWARE = [
    "ops.middleware.RequestMetricsMiddleware",
    "ops.middleware.OpsEndpointsMiddleware",
    *MIDDLEWARE,
]
# Synthesis workers refresh their engine status this often; readiness counts a worker whose
# heartbeat is at most 3 intervals old.
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=15.0)
# Each readiness check (database, broker, cache, storage, workers) and each metrics source gets
# this long before it is reported failed: readiness and scrapes never hang.
HEALTH_CHECK_TIMEOUT_SECONDS = env.float("HEALTH_CHECK_TIMEOUT_SECONDS", default=3.0)
# /metrics is open to a bearer token (empty: none accepted) or to clients in these networks.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"])
# Several gunicorn processes: an empty directory (per start) where each writes its samples,
# summed at scrape (prometheus-client multiprocess mode). Unset: one process's own metrics.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
