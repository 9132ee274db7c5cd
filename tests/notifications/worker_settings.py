"""Settings for the real Celery workers the fault tests start (see tests/notifications/worker.py):
the test settings, with tasks sent to the broker and e-mails written to files the test reads."""

import os

from cpis.settings.test import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = False
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["EMAIL_FILE_PATH"]
