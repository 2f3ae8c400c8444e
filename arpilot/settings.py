"""ARPilot settings: one module, driven by the environment (see README "Configuration").

With no environment at all ARPilot runs embedded: a SQLite file under var/ and background
tasks in a scheduler thread inside the web process. DATABASE_URL switches to PostgreSQL and
REDIS_URL to Redis (Celery broker and cache) with separate Celery workers and beat.
"""

import warnings
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from arpilot.email_url import FILE_BACKEND, SMTP_BACKEND, EmailURLError, email_settings_from_url
from arpilot.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("ARPILOT_VAR_DIR", str(BASE_DIR / "var")))

ARPILOT_ENV = env_str("ARPILOT_ENV", "development")  # development | production
PRODUCTION = ARPILOT_ENV == "production"
if ARPILOT_ENV not in {"development", "production"}:
    raise ImproperlyConfigured("ARPILOT_ENV must be 'development' or 'production'")

DEBUG = env_bool("DJANGO_DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG cannot be on in production")
_DEV_SECRET = "dev-insecure-0b3c2b7e6f9d4a4e8c1f5a7d9e2b4c6a8f0e1d3c5b7a9f1e3d5c7b9a1f3e5d7c"
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "" if PRODUCTION else _DEV_SECRET)
if PRODUCTION and (len(SECRET_KEY) < 50 or SECRET_KEY == _DEV_SECRET):
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set to 50+ random characters")

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver", "[::1]"]
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # First, so its ``runserver`` (WhiteNoise for static files, a real socket backlog) is the
    # one manage.py runs, not staticfiles' (which serves static files only with DEBUG on).
    "arpilot",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "customers",
    "receivables",
    "credits",
    "payments",
    "reconciliation",
    "dunning",
    "webhooks",
    "mail",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files in every mode: from the app and project static dirs through the finders in
    # development (so `make run` and a gunicorn started without collectstatic serve them), from
    # the collectstatic manifest in production.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "arpilot.actors.ActorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: counts failed sign-ins and locks out (see AXES_* below).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "arpilot.urls"
WSGI_APPLICATION = "arpilot.wsgi.application"
ASGI_APPLICATION = "arpilot.asgi.application"

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
    {
        # Rows rendered dozens of times per page (arpilot/jinja2.py says why).
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "arpilot.jinja2.environment"},
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60), conn_health_checks=True
        )
    }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(VAR_DIR / "arpilot.sqlite3")),
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Matching one payment reads customers whose names are like the payer's with pg_trgm's
    # word-similarity operator (payments.services.match_candidates), at this threshold first
    # (and at a looser one for a payer it finds no close name for).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "options", "-c pg_trgm.word_similarity_threshold=0.7"
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The in-process task threads write too: wait for locks instead of failing, and take the
    # write lock at BEGIN so two writers never deadlock on an upgrade (also for a
    # DATABASE_URL of sqlite:///…, which would otherwise fail with "database is locked").
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, Celery ------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    _REDIS_CACHE = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "arpilot",
    }
    CACHES = {"default": _REDIS_CACHE, "shared": _REDIS_CACHE}
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        # What every process must see alike (API rate-limit counters): runserver, a gunicorn
        # started by hand and management commands share the database. The table comes with
        # `migrate` (arpilot/migrations/0002_shared_cache_table.py).
        "shared": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "arpilot_shared_cache",
        },
    }

# Without REDIS_URL tasks run in this process (arpilot/inprocess.py): a scheduler thread that
# honours countdown/eta, so delayed retries and the beat schedule below happen there too.
ARPILOT_TASKS_IN_PROCESS = not REDIS_URL
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "arpilot"
CELERY_TIMEZONE = "UTC"
# Keep a worker's database connection across tasks (Celery closes it after each by default).
CELERY_DB_REUSE_MAX = 1000
# The whole periodic schedule, in one place; every app's periodic task is listed here.
CELERY_BEAT_SCHEDULE: dict = {
    "idempotency-keys-purge": {
        "task": "arpilot.tasks.idempotency_keys_purge",
        "schedule": timedelta(hours=1),
    },
    # Hourly, so each customer timezone's midnight is picked up within the hour.
    "receivables-invoices-mark-overdue": {
        "task": "receivables.tasks.invoices_mark_overdue",
        "schedule": timedelta(hours=1),
    },
    "payments-imports-requeue-stale": {
        "task": "payments.tasks.imports_requeue_stale",
        "schedule": timedelta(minutes=5),
    },
    "webhooks-requeue-due": {
        "task": "webhooks.tasks.requeue_due",
        "schedule": timedelta(minutes=1),
    },
    "mail-requeue-due": {
        "task": "mail.tasks.requeue_due",
        "schedule": timedelta(minutes=1),
    },
    "reconciliation-sync-due": {
        "task": "reconciliation.tasks.sync_due",
        "schedule": timedelta(minutes=1),
    },
    # Every 5 minutes: each organization's dunning run starts once a day, at its policy's
    # run_at in the organization's time zone, within 5 minutes of it.
    "dunning-runs-due": {
        "task": "dunning.tasks.runs_due",
        "schedule": timedelta(minutes=5),
    },
    # Hourly: promises paid are kept; those past their date (in each organization's time
    # zone) and not paid are broken.
    "dunning-promises-check": {
        "task": "dunning.tasks.promises_check",
        "schedule": timedelta(hours=1),
    },
}

# --- Email (the mail app's outbox sends through Django's email framework) ----------------
# EMAIL_URL (smtp://user:password@host:587/?tls=True, smtps://…, file:///folder; see
# arpilot/email_url.py) wins over Django's separate EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER,
# EMAIL_HOST_PASSWORD, EMAIL_USE_TLS, EMAIL_USE_SSL. With neither, each message is written
# as one .eml file under var/mail/ and the clerk pages at /mail/ preview it.
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ARPilot <arpilot@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
# Seconds each SMTP socket operation may take (Django's default waits forever).
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
EMAIL_BACKEND = SMTP_BACKEND if EMAIL_HOST else FILE_BACKEND
if env_str("EMAIL_URL"):
    try:
        globals().update(email_settings_from_url(env_str("EMAIL_URL")))
    except EmailURLError as exc:
        raise ImproperlyConfigured(str(exc)) from exc

# --- Auth, i18n, static -------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses a locked-out user/address before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Sign-in throttling (django-axes): after ARPILOT_LOGIN_FAILURES wrong passwords for one user
# name, or from one address, sign-in is refused for ARPILOT_LOGIN_LOCKOUT_MINUTES.
AXES_FAILURE_LIMIT = env_int("ARPILOT_LOGIN_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("ARPILOT_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_IPWARE_PROXY_COUNT = env_int("ARPILOT_TRUSTED_PROXIES", 0)
# A finance app's session ends when the browser closes, and after a working day at most.
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_bool("ARPILOT_SESSION_EXPIRE_AT_BROWSER_CLOSE", True)
SESSION_COOKIE_AGE = env_int("ARPILOT_SESSION_HOURS", 10) * 3600
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Development serves static files straight from the finders (no collectstatic needed);
# production from STATIC_ROOT, built by `collectstatic` with hashed names.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG and not PRODUCTION
if not PRODUCTION:  # no collectstatic in development: an absent STATIC_ROOT is expected
    warnings.filterwarnings("ignore", message="No directory at: ", category=UserWarning)
MEDIA_ROOT = Path(env_str("ARPILOT_MEDIA_ROOT", str(VAR_DIR / "media")))
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- REST framework -------------------------------------------------------------------------
ARPILOT_API_RATE = env_str("ARPILOT_API_RATE", "1200/min")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["arpilot.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["arpilot.api.permissions.HasOrganization"],
    "DEFAULT_THROTTLE_CLASSES": ["arpilot.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": ARPILOT_API_RATE},
    "DEFAULT_PAGINATION_CLASS": "arpilot.api.pagination.PagePagination",
    # DRF's JSONRenderer's bytes, written by orjson (arpilot/api/renderers.py).
    "DEFAULT_RENDERER_CLASSES": ["arpilot.api.renderers.JSONRenderer"],
    # JSON only; the file-import endpoint declares its own multipart parser.
    "DEFAULT_PARSER_CLASSES": ["arpilot.api.parsers.DecimalJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "arpilot.api.schema.ArpilotAutoSchema",
    "EXCEPTION_HANDLER": "arpilot.api.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": False,
    "DATE_INPUT_FORMATS": ["%Y-%m-%d"],
    "DATE_FORMAT": "iso-8601",  # date.isoformat(): years below 1000 keep four digits
    "STRICT_JSON": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ARPilot API",
    "VERSION": "1.0.0",
    "DESCRIPTION": (
        "API for managing accounts receivable, customers, payments, and reconciliation.\n\n"
        "Authenticate with `Authorization: Bearer <api key>`. Single objects come as "
        '`{"data": {...}}`, lists as `{"data": [...], "pagination": {...}}`, errors as '
        '`{"error": {"code", "message", "fields"}}`. Money is a decimal with two places, '
        "accepted as a JSON number or numeric string. Every POST accepts an `Idempotency-Key` "
        "header: a replay with the same body returns the first response; a different body is "
        "422; a replay while the first request runs is 409. Keys are kept 48 hours."
    ),
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "AccountTypeEnum": "receivables.models.Account.Type",
        "AplosContactTypeEnum": "receivables.models.AplosContact.Type",
        "InvoiceStatusEnum": "receivables.models.Invoice.Status",
        "AccountingChangeStatusEnum": "reconciliation.models.AccountingChange.Status",
        "AccountingChangeTypeEnum": "reconciliation.models.AccountingChange.ChangeType",
        "PaymentStatusEnum": "payments.models.Payment.Status",
        "PaymentImportStatusEnum": "payments.models.PaymentImport.Status",
        "DeductionResolutionEnum": "credits.models.Deduction.Resolution",
        # Deductions and disputes share the choices (open, resolved): one enum.
        "OpenResolvedStatusEnum": "credits.models.Deduction.Status",
        "DisputeResolutionEnum": "dunning.models.Dispute.Resolution",
    },
    "SCHEMA_PATH_PREFIX": r"/(api/v1|hermes/api/v1)",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Relative: the schema describes the server that serves it (generators resolve it against
    # the URL they were given, schemathesis and the clients take a base URL anyway).
    "SERVERS": [{"url": "/", "description": "The server that serves this schema"}],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "arpilot.api.schema.postprocess_nullable_types",
    ],
}

# --- ARPilot ------------------------------------------------------------------------------
ARPILOT_IDEMPOTENCY_TTL = timedelta(hours=48)
ARPILOT_IDEMPOTENCY_STALE_AFTER = timedelta(minutes=5)
# Who hears what a lower app tells (arpilot/hooks.py): event class name -> receivers, each
# called with the event inside the sender's transaction. Checked at start-up (arpilot.checks).
ARPILOT_HOOK_RECEIVERS: dict[str, list[str]] = {
    # Each app seeds what a new organization needs.
    "OrganizationCreated": [
        "receivables.receivers.organization_created",
        "dunning.receivers.organization_created",
        "credits.receivers.organization_created",
    ],
    # Remove what may go with a customer, or refuse (409) what may not.
    "CustomerDeleting": [
        "credits.receivers.customer_deleting",
        "receivables.receivers.customer_deleting",
    ],
    # Money moved: a pending accounting change.
    "MoneyMoved": ["reconciliation.receivers.money_moved"],
    # A reviewed payment's pending accounting changes are approved.
    "PaymentReviewed": ["reconciliation.receivers.payment_reviewed"],
    # An email will not be sent: a reminder it carried is marked failed.
    "EmailGaveUp": ["dunning.receivers.email_gave_up"],
    # An email was sent: a reminder it carried is marked sent (and reminder.sent goes out).
    "EmailSent": ["dunning.receivers.email_sent"],
    # Fields higher apps add to invoice JSON (the open dispute).
    "InvoicesDescribed": ["dunning.invoice_fields.invoices_described"],
    # A new invoice: customer credit may settle it (when the organization turns that on).
    "InvoiceIssued": ["payments.receivers.invoice_issued"],
}
# The demo: the sign-in page shows the demo users' password (`manage.py seed_demo`). On by
# default in development, off and refused in production.
ARPILOT_DEMO = env_bool("ARPILOT_DEMO", not PRODUCTION)
if PRODUCTION and ARPILOT_DEMO:
    raise ImproperlyConfigured("ARPILOT_DEMO cannot be on in production")
# Webhooks may target plain-HTTP and loopback URLs only where this is on (tests, local dev).
ARPILOT_WEBHOOKS_ALLOW_INSECURE = env_bool("ARPILOT_WEBHOOKS_ALLOW_INSECURE", False)
if PRODUCTION and ARPILOT_WEBHOOKS_ALLOW_INSECURE:
    raise ImproperlyConfigured("ARPILOT_WEBHOOKS_ALLOW_INSECURE cannot be on in production")

# --- Security (production mode passes `manage.py check --deploy --fail-level WARNING`) -----
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set in production")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "axes": {"level": "WARNING"},
        # WeasyPrint logs seven steps of every statement PDF at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
