"""Production settings for a local benchmark server (gunicorn on 127.0.0.1).

``DJANGO_SETTINGS_MODULE=bench.settings_bench``: everything ``collectpro.settings.
production`` does (DEBUG off, persistent connections, the same middleware and DRF
settings), with what a plain-HTTP run on the loopback interface needs:

* secrets from the environment, with fixed public defaults (the same development keys
  as ``collectpro.settings.local``, so a database seeded by ``python -m bench`` under the
  default settings decrypts and searches the same way); ``bench/api_list.py`` passes the
  runner's own keys explicitly;
* ``ALLOWED_HOSTS`` localhost/127.0.0.1, no HTTPS redirect or HSTS, console-less
  in-memory email (nothing leaves the machine);
* the per-key API rate limit raised to ``API_KEY_RATE`` (default 1,000,000/s), so the
  throttle still runs on every request (cache read and write, as in production) but
  never refuses one;
* ``DATABASE_URL`` is required and, as for the runner, its database name must contain
  "bench";
* ``ROOT_URLCONF = "bench.urls_bench"``: the product's URLs plus the plain DRF baseline.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("SECRET_KEY", "bench-insecure-7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a")
os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1")
# The development keys of collectpro.settings.local (public; a bench database only).
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "dev1:ZGV2LW9ubHktZmllbGQta2V5LWRvLW5vdC11c2UtISE=")
os.environ.setdefault("BLIND_INDEX_KEY", "ZGV2LW9ubHktYmxpbmQtaW5kZXgta2V5LWRvLW5vdC0h")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
os.environ.setdefault("API_KEY_RATE", "1000000/s")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from collectpro.settings.production import *  # noqa: F403
from collectpro.settings.production import DATABASES, REST_FRAMEWORK, env

_name = str(DATABASES["default"].get("NAME", ""))
if "bench" not in Path(_name).name.lower():
    raise ImproperlyConfigured(
        f'bench.settings_bench: DATABASE_URL names database {Path(_name).name!r}; use one whose name contains "bench"'
    )

DEBUG = False
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
ROOT_URLCONF = "bench.urls_bench"
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        **cast(dict[str, Any], REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]),
        "api_key": env("API_KEY_RATE"),
    },
}
