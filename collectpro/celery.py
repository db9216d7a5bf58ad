import os

from celery import Celery

# Like wsgi.py: workers are production processes unless told otherwise.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "collectpro.settings.production")

app = Celery("collectpro")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
