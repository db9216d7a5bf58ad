"""The embedded default: SQLite, tasks in-process, console email, DEBUG on.

Development secrets are fixed and public on purpose; production settings refuse
to start without real ones.
"""

import os

os.environ.setdefault("SECRET_KEY", "dev-insecure-0b1f0d1e7c1a4f6e8b3a5d9c2e7f4a1b6c8d0e2f")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "dev1:ZGV2LW9ubHktZmllbGQta2V5LWRvLW5vdC11c2UtISE=")
os.environ.setdefault("BLIND_INDEX_KEY", "ZGV2LW9ubHktYmxpbmQtaW5kZXgta2V5LWRvLW5vdC0h")
os.environ.setdefault("AUDIT_CHECKPOINT_KEY", "dev1:ZGV2LW9ubHktYXVkaXQtY2hlY2twb2ludC1rZXkhISE=")
os.environ.setdefault("ACCOUNT_EMAIL_VERIFICATION", "optional")
os.environ.setdefault("ACCOUNT_DEFAULT_HTTP_PROTOCOL", "http")
os.environ.setdefault("MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN", "true")

from .base import *

INTERNAL_IPS = ["127.0.0.1"]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
