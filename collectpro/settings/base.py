"""Settings shared by every environment.

Every value that differs between machines comes from the environment through
``env`` (django-environ). A required variable that is missing raises
``ImproperlyConfigured("Set the X environment variable")`` at startup, so a
misconfigured deployment fails loudly instead of running with a wrong default.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

SECRET_KEY = env("SECRET_KEY")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # third party
    "rest_framework",
    "drf_spectacular",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "axes",
    "django_celery_beat",
    "django_htmx",
    "anymail",
    # CollectPro, bottom layer first (docs/architecture.md)
    "kernel",
    "collectpro",
    "accounts",
    "audit",
    "debtors",
    "placements",
    "consent",
    "communications",
    "reporting",
    "payments",
    "privacy_requests",
    "retention",
    "incidents",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "kernel.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    # Axes must be last among the auth-related middleware (its docs).
    "axes.middleware.AxesMiddleware",
    # Opens the request transaction, sets the tenant for RLS, enforces membership.
    "accounts.middleware.TenancyMiddleware",
    "consent.middleware.PolicyAcceptanceMiddleware",
]

ROOT_URLCONF = "collectpro.urls"
WSGI_APPLICATION = "collectpro.wsgi.application"

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
                "django.template.context_processors.i18n",
                "accounts.context_processors.shell",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
# DATABASE_URL: the application's connection. In production this is a role that
# owns no table and is subject to row-level security (docs/tenancy.md).
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'collectpro.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent writers (webhooks, imports) wait instead of "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# The role every tenant transaction switches to with SET LOCAL ROLE (PostgreSQL
# only). Empty means "the login role is already the application role".
TENANCY_DB_ROLE = env("TENANCY_DB_ROLE", default="")
# The role the RLS migration grants table privileges to.
TENANCY_APP_ROLE = env("TENANCY_APP_ROLE", default="collectpro_app")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Placement imports (docs/placements.md#how-it-runs) --------------------
# Worker processes that validate and encrypt rows: "auto" = one per CPU; 0 = none.
_import_workers = env("PLACEMENT_IMPORT_WORKERS", default="auto")
PLACEMENT_IMPORT_WORKERS = None if _import_workers == "auto" else int(_import_workers)
# Files smaller than this are prepared in-process (a worker takes ~1 s to start).
PLACEMENT_IMPORT_PARALLEL_MIN_ROWS = env.int("PLACEMENT_IMPORT_PARALLEL_MIN_ROWS", default=20_000)
# On PostgreSQL, files this big are written on a second connection while the next
# chunk is planned.
PLACEMENT_IMPORT_PIPELINE_MIN_ROWS = env.int("PLACEMENT_IMPORT_PIPELINE_MIN_ROWS", default=20_000)
# Rejects files hold rejected rows as uploaded (personal data in clear text): the
# nightly retention purge deletes them this many days after the import finished (the
# default of the PLACEMENT_FILES category; a workspace may set its own period).
PLACEMENT_REJECTS_RETENTION_DAYS = env.int("PLACEMENT_REJECTS_RETENTION_DAYS", default=30)
# How long the operator keeps database backups (docs/retention.md, "Backups"): shown on the
# retention schedule; an erased person's data leaves the backups this long after erasure.
BACKUP_RETENTION_DAYS = env.int("BACKUP_RETENTION_DAYS", default=35)
# How often a process re-reads the shared "shred generation" of cached data keys
# (kernel/crypto/keyring.py): a shredded key stops being used within this many seconds.
KEYRING_SHRED_CHECK_SECONDS = env.float("KEYRING_SHRED_CHECK_SECONDS", default=1.0)
RETENTION_MAX_BATCH = env.int("RETENTION_MAX_BATCH", default=0)  # caps every purge batch (tests; 0: none)

# --- Cache, Celery --------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "collectpro",
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    # Embedded default: no Redis, tasks run in-process.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_RESULT_BACKEND = "cache+memory://"
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# --- Auth -----------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_RATE_LIMITS = {"login_failed": False}  # django-axes owns lockout
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[CollectPro] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = env("ACCOUNT_DEFAULT_HTTP_PROTOCOL", default="https")

MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = "CollectPro"
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = env.bool("MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN", default=False)
USERSESSIONS_TRACK_ACTIVITY = True

# django-axes: lock a username+IP pair after 5 failures for 30 minutes.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=30)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "accounts.lockout.axes_username"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]
AXES_VERBOSE = False

# --- Email ----------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="CollectPro <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Stripe (used by the payments issue) ----------------------------------
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")

# --- Field encryption (audit/registry issue) ------------------------------
# "id:base64key,id:base64key" — the first is primary. See docs/encryption.md.
FIELD_ENCRYPTION_KEYS = env("FIELD_ENCRYPTION_KEYS", default="")
BLIND_INDEX_KEY = env("BLIND_INDEX_KEY", default="")
FIELD_ENCRYPTION_KEY_PROVIDER = env("FIELD_ENCRYPTION_KEY_PROVIDER", default="kernel.crypto.keys.EnvKeyProvider")
# Audit checkpoints (ADR 0016): "id:base64(32-byte Ed25519 private key)" signs them;
# "id:base64(32-byte public key),…" verifies retired keys' (or an auditor's, without the secret).
AUDIT_CHECKPOINT_KEY = env("AUDIT_CHECKPOINT_KEY", default="")
AUDIT_CHECKPOINT_PUBLIC_KEYS = env("AUDIT_CHECKPOINT_PUBLIC_KEYS", default="")

# --- I18N -----------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("hi", "हिन्दी")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

# --- Static and uploaded files ---------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded documents live outside the web root and are served only through views.
PRIVATE_STORAGE_ROOT = Path(env("PRIVATE_STORAGE_ROOT", default=str(VAR_DIR / "private")))
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_STORAGE_ROOT), "base_url": None},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- DRF ------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.api_auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.api_auth.HasWorkspaceApiKey"],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.api_auth.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env("API_KEY_RATE", default="600/min")},
    "DEFAULT_PAGINATION_CLASS": "kernel.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "kernel.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CollectPro API",
    "DESCRIPTION": (
        "REST API for creditors and integrations. Authenticate with "
        "`Authorization: Bearer <api key>`; every object is scoped to the key's workspace "
        "(and to its client, for client-scoped keys)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "APPEND_COMPONENTS": {"securitySchemes": {"BearerApiKey": {"type": "http", "scheme": "bearer"}}},
    "SECURITY": [{"BearerApiKey": []}],
}

# --- Security defaults that hold everywhere ---------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_AGE = 60 * 60 * 12
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
USERSESSIONS_ADAPTER = "accounts.usersessions.UserSessionsAdapter"
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)

from celery.schedules import crontab

CELERY_BEAT_SCHEDULE = {
    "communications-upkeep": {
        "task": "communications.tasks.communications_upkeep_all",
        "schedule": crontab(minute=20, hour="*"),  # hourly: fail messages stuck in the hand-off
    },
    "collections-upkeep": {
        "task": "debtors.tasks.collections_upkeep_all",
        "schedule": crontab(minute=15, hour="*"),  # hourly; each step is idempotent
    },
    "dashboard-warm": {
        "task": "debtors.tasks.dashboard_warm_all",
        "schedule": crontab(minute="*"),
    },
    "sequences-advance": {
        "task": "consent.tasks.sequences_advance_all",
        "schedule": crontab(minute="*/15"),
    },
    "payments-reconcile": {
        "task": "payments.tasks.reconcile_all",
        "schedule": crontab(minute="*/30"),
    },
    "retention-purge": {
        "task": "retention.tasks.purge_expired_all",
        # nightly: what is past its retention period (docs/retention.md); resumes a killed run
        "schedule": crontab(minute=30, hour=1),
    },
    "privacy-reminders": {
        "task": "privacy_requests.tasks.privacy_reminders_all",
        # daily: 7 and 2 days before each deadline, and overdue; days counted in each workspace's zone
        "schedule": crontab(minute=10, hour=3),
    },
    "incident-reminders": {
        "task": "incidents.tasks.incident_reminders_all",
        # breach clocks run in hours: 24 h, 6 h and 1 h before each open duty's deadline, and overdue
        "schedule": crontab(minute="*/15"),
    },
    "security-alerts": {
        "task": "incidents.alert_tasks.security_alerts_detect_all",
        # bulk reveals and exports, failed sign-ins over their windows (docs/incidents.md)
        "schedule": crontab(minute="*/5"),
    },
    "incident-notices-resume": {
        "task": "incidents.notice_tasks.incident_notices_resume_all",
        # breach notices whose worker died: re-queued after 10 minutes without progress
        "schedule": crontab(minute="*/15"),
    },
}
PAYMENT_PROVIDER = env("PAYMENT_PROVIDER", default="stripe" if STRIPE_SECRET_KEY else "sandbox")
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)
PAYMENT_LINK_TTL_DAYS = env.int("PAYMENT_LINK_TTL_DAYS", default=14)
PAYMENT_MINIMUM_MINOR = env.int("PAYMENT_MINIMUM_MINOR", default=100)
# How many reverse proxies (nginx, a load balancer) sit in front of gunicorn. The
# client address is then read from X-Forwarded-For, that many hops from the right.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
SMS_PROVIDER = env("SMS_PROVIDER", default="communications.sms.LoggingSmsProvider")
ANYMAIL = {
    "BREVO_API_KEY": env("BREVO_API_KEY", default=""),
    "WEBHOOK_SECRET": env("ANYMAIL_WEBHOOK_SECRET", default=""),
}
