"""Settings for the test suite: fast hashing, in-memory email, local keys.

DATABASE_URL and REDIS_URL still come from the environment, so CI runs the same
suite against PostgreSQL (with row-level security) and Redis.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-3e1c9a7b5d")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "test1:dGVzdC1vbmx5LWZpZWxkLWtleS0zMi1ieXRlcyEhISE=")
os.environ.setdefault("BLIND_INDEX_KEY", "dGVzdC1vbmx5LWJsaW5kLWluZGV4LWtleS0zMmJ5dGVz")
os.environ.setdefault("AUDIT_CHECKPOINT_KEY", "test1:dGVzdC1vbmx5LWF1ZGl0LWNoZWNrcG9pbnQta2V5ISE=")
os.environ.setdefault("ACCOUNT_EMAIL_VERIFICATION", "optional")
os.environ.setdefault("ACCOUNT_DEFAULT_HTTP_PROTOCOL", "http")
os.environ.setdefault("DATABASE_URL", "sqlite:///:memory:")
os.environ.setdefault("MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN", "true")

from .base import *
from .base import REDIS_URL, STORAGES, VAR_DIR

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
PRIVATE_STORAGE_ROOT = VAR_DIR / "test-private"
STORAGES["default"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": str(PRIVATE_STORAGE_ROOT), "base_url": None},
}
# Tests that exercise Redis use REDIS_URL explicitly; the suite's own tasks run eagerly
# unless a test starts a real worker (tests/conftest.py: celery_worker fixture).
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
TEST_REDIS_URL = REDIS_URL
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"api_key": "10000/min"},
}
# Serve static files from the finders in tests (no collectstatic, no warning).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
