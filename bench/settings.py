"""Bench-only settings: production settings (cpis.settings.base) plus a bare one-query view.

Never used outside `make bench`; the environment (DATABASE_URL, REDIS_URL, CELERY_BROKER_URL,
SECRET_KEY, ...) is set by the bench module that starts gunicorn with them.
"""

from cpis.settings.base import *  # noqa: F403
from cpis.settings.base import STORAGES

ROOT_URLCONF = "bench.urls"
# The bench does not run collectstatic; the manifest lookup it skips is one dict lookup.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
