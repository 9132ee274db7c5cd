import os

from celery import Celery

from cpis.logs import connect_celery_signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpis.settings.base")

app = Celery("cpis")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# A task logs with the request id, user, organisation and TraceID of the request that queued it.
connect_celery_signals()
