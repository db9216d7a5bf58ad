# syntax=docker/dockerfile:1
#
# CollectPro application image: the same image runs web (gunicorn), worker and beat
# (celery) and the one-shot migrate job; docker-compose.yml picks the command.
#
#   docker build -t collectpro .
#
# Dependencies are installed from constraints.txt (the lock file, see `make lock`),
# so the image gets exactly the versions CI tested.

FROM python:3.11-slim

# PYTHONPATH: the project runs from /app (pyproject.toml installs no packages), and
# celery, unlike manage.py and gunicorn, does not put the working directory on sys.path.
# WEB_CONCURRENCY is gunicorn's default worker count (override at run time).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    WEB_CONCURRENCY=3 \
    PRIVATE_STORAGE_ROOT=/data/private

# Unprivileged runtime user with a fixed uid/gid (stable ownership of volumes).
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /home/app --create-home \
        --shell /usr/sbin/nologin app

RUN python -m venv "$VIRTUAL_ENV"

WORKDIR /app

# 1. Dependencies only, in their own layer: rebuilt when pyproject.toml or the lock
#    changes, not on every source edit. The globs make README.md and constraints.txt
#    optional. The project itself declares no packages (it runs from /app), so
#    installing "." installs just its runtime dependencies (no dev tools).
COPY pyproject.toml README.m[d] constraints.tx[t] ./
RUN if [ -f constraints.txt ]; then \
        pip install -c constraints.txt . ; \
    else \
        echo "warning: constraints.txt missing, installing unpinned" >&2; \
        pip install . ; \
    fi \
 && rm -rf build *.egg-info

# 2. Application source, owned by root and read-only for the runtime user.
COPY . .

# 3. Static files are collected at build time (whitenoise serves them from
#    var/staticfiles). Production settings refuse to load without their secrets, so
#    this one command gets throwaway values; they are not baked into the image's ENV.
RUN DJANGO_SETTINGS_MODULE=collectpro.settings.production \
    SECRET_KEY=build-only-not-a-secret-collectstatic-0000000000000000 \
    ALLOWED_HOSTS=localhost \
    DATABASE_URL=sqlite:////tmp/build-only.sqlite3 \
    FIELD_ENCRYPTION_KEYS=build:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    BLIND_INDEX_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    AUDIT_CHECKPOINT_KEY=build:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    python manage.py collectstatic --noinput \
 && rm -f /tmp/build-only.sqlite3

# Writable locations for the runtime user: uploaded documents (a volume in
# docker-compose.yml; a fresh named volume inherits this ownership) and var/.
RUN mkdir -p /data/private /app/var \
 && chown app:app /data/private /app/var \
 && chmod 0700 /data/private

USER app

EXPOSE 8000

# Default command: the web server. Put a TLS-terminating proxy in front that sets
# (overwrites) X-Forwarded-Proto: production settings trust that header.
CMD ["gunicorn", "collectpro.wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--worker-tmp-dir", "/dev/shm", \
     "--access-logfile", "-"]
