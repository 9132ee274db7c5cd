"""Settings for the beats the host tests start: the test settings, with two entries on short
intervals beside the real schedule, so a test of a minute sees many slots of the same lock."""

from cpis.settings.test import *  # noqa: F403
from cpis.settings.test import CELERY_BEAT_SCHEDULE

CELERY_TASK_ALWAYS_EAGER = False

# A queue no worker consumes: the test counts what beat published there.
SHORT_ENTRY_QUEUE = "hosts-test-beat"
SHORT_ENTRIES = {"hosts-test-every-2s": 2.0, "hosts-test-every-3s": 3.0}
CELERY_BEAT_SCHEDULE = {
    **CELERY_BEAT_SCHEDULE,
    **{
        name: {"task": "cpis.health.worker_heartbeat", "schedule": interval, "options": {"queue": SHORT_ENTRY_QUEUE}}
        for name, interval in SHORT_ENTRIES.items()
    },
}
