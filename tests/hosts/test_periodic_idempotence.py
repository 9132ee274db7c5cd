"""Every entry of CELERY_BEAT_SCHEDULE, run twice in the same slot: the second run does nothing.

Beat's lock (cpis/beat.py) can fail open for a tick across a Redis failover, so this is the
guarantee that matters: each case gives its job something to do, runs it through Celery by its
scheduled name and arguments, and compares the whole database (every table of the project's
apps, except the record of the runs themselves), the e-mails sent and the PDS requests made
after the first run and after the second. A new schedule entry without a case here fails.
"""

import datetime as dt
from datetime import timedelta

import pytest
import time_machine
from django.apps import apps
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.utils import timezone

from accounts.models import Role, TrainingRecord, User
from cpis.celery import app
from notifications.models import Delivery, DeliveryStatus, Notification
from plans.models import PlanUpload, UploadStatus
from privacy.models import Alert, AlertRule
from tests.factories import PlanFactory
from tests.identity.conftest import local_pds_server, pds  # noqa: F401 - fixtures for identity-reverify
from tests.mesh.conftest import LA001, mesh, mesh_sandbox  # noqa: F401 - fixtures for mesh-poll
from tests.notifications.checks import record_check, unique_nhs_number
from tests.plans.helpers import csv_bytes, row
from tests.privacy.history import checks

pytestmark = pytest.mark.django_db

PROJECT_APPS = {
    "accounts",
    "administration",
    "attendances",
    "audit",
    "identity",
    "mesh",
    "notifications",
    "plans",
    "privacy",
    "reports",
    "suppliers",
}
# Written by every run, by design: when each job last succeeded (operations/signals.py), when
# MESH was last polled, up to when the audit log has been scanned, and when the go-live states
# were last refreshed together.
RUN_RECORDS = {"operations.periodictaskrun", "mesh.meshpollstate", "privacy.alertscan", "reports.goliverefresh"}


def _database() -> dict[str, list[dict]]:
    state = {}
    for model in apps.get_models():
        label = model._meta.label_lower
        if model._meta.app_label in PROJECT_APPS | {"operations"} and label not in RUN_RECORDS:
            state[label] = list(model._default_manager.order_by("pk").values())
    return state


def _checked_child(care_setting):
    plan = PlanFactory(nhs_number=unique_nhs_number(), end_date=None)
    return record_check(plans=[plan], care_setting=care_setting)


def _stuck_deliveries(fixtures):
    _checked_child(fixtures["care_setting"])
    # As after an outage: the check's messages never reached a worker.
    Delivery.objects.update(status=DeliveryStatus.PENDING, next_attempt_at=timezone.now() - timedelta(hours=1))


def _overdue_notification(fixtures):
    _checked_child(fixtures["care_setting"])
    Notification.objects.update(due_at=timezone.now() - timedelta(hours=1), delivered_to_inbox_at=timezone.now())


def _training_expiring(fixtures):
    user = fixtures["role_user"](Role.CLINICIAN)
    user.training_records.all().delete()
    expires_on = timezone.localdate() + dt.timedelta(days=5)
    TrainingRecord.objects.create(
        user=user, course="CP-IS e-learning", completed_on=expires_on - dt.timedelta(days=365), expires_on=expires_on
    )


def _unused_account(fixtures):
    user = fixtures["role_user"](Role.CLINICIAN)
    User.objects.filter(pk=user.pk).update(last_login=timezone.now() - dt.timedelta(days=400))


def _adult_on_a_plan(fixtures):
    today = timezone.localdate()
    PlanFactory(date_of_birth=today - timedelta(days=365 * 18 + 30), start_date=today - timedelta(400), end_date=None)


def _plan_past_retention(fixtures):
    PlanFactory(start_date=dt.date(2015, 1, 1), end_date=dt.date(2016, 1, 1))


def _stale_upload(fixtures):
    PlanUpload.objects.create(
        organisation=fixtures["local_authority"],
        filename="stale.csv",
        status=UploadStatus.QUEUED,
        confirmed_at=timezone.now() - timedelta(hours=5),
    )


def _held_upload(fixtures):
    fixtures["settings"].IDENTITY_HELD_MAX_HOURS = 1
    PlanUpload.objects.create(
        organisation=fixtures["local_authority"],
        filename="held.csv",
        status=UploadStatus.HELD,
        uploaded_at=timezone.now() - timedelta(hours=2),
    )


def _open_plan_to_reverify(fixtures):
    plan = PlanFactory(nhs_number=unique_nhs_number(), end_date=None, family_name="Smith", given_names="Ann")
    fixtures["pds"].add(
        {
            "nhs_number": plan.nhs_number,
            "family": "Smith",
            "given": ["Ann"],
            "birth_date": plan.date_of_birth.isoformat(),
        }
    )


def _checks_days_ago(fixtures):
    with time_machine.travel(timezone.now() - timedelta(days=3), tick=False):
        _checked_child(fixtures["care_setting"])


def _plan_file_in_mesh(fixtures):
    fixtures["mesh"].send(LA001, csv_bytes([row(1), row(2)]))


def _checks_in_bulk(fixtures):
    user = fixtures["role_user"](Role.CLINICIAN, fixtures["care_setting"])
    checks(user, fixtures["care_setting"], timezone.now() - timedelta(hours=2), settings.PRIVACY_VOLUME_MIN)


def _open_alert(fixtures):
    fixtures["role_user"](Role.PRIVACY_OFFICER)
    Alert.objects.create(
        organisation=fixtures["care_setting"],
        user=fixtures["role_user"](Role.CLINICIAN),
        rule=AlertRule.VOLUME,
        dedupe_key="1",
        explanation="x",
    )


def _nothing(fixtures):
    pass


# Entry → (the fixtures its case needs, what gives its first run something to do).
CASES = {
    "worker-heartbeat": ((), _nothing),
    "notifications-sweep": (("care_setting",), _stuck_deliveries),
    "notifications-mark-overdue": (("care_setting",), _overdue_notification),
    "training-expiry-reminders": (("role_user",), _training_expiring),
    "unused-accounts-lock": (("role_user",), _unused_account),
    "plans-end-at-eighteen": ((), _adult_on_a_plan),
    "plans-purge": ((), _plan_past_retention),
    "plan-uploads-stale-fail": (("local_authority",), _stale_upload),
    "identity-held-uploads-retry": (("local_authority", "settings"), _held_upload),
    "identity-reverify": (("pds",), _open_plan_to_reverify),
    "audit-partitions-ensure": ((), _nothing),
    "reports-days-roll-up": (("care_setting",), _checks_days_ago),
    # Its first run keeps the care setting's state; the second writes the same.
    "reports-go-live-refresh": (("care_setting",), _nothing),
    "mesh-poll": (("mesh",), _plan_file_in_mesh),
    "privacy-alerts-scan": (("role_user", "care_setting"), _checks_in_bulk),
    "privacy-open-alerts-email": (("role_user", "care_setting"), _open_alert),
    "privacy-baselines-roll-up": (("care_setting",), _checks_days_ago),
    "pool-heartbeat-deliveries-inbox": ((), _nothing),
    "pool-heartbeat-deliveries-email": ((), _nothing),
    "pool-heartbeat-deliveries-webhook": ((), _nothing),
    "pool-heartbeat-deliveries-mesh": ((), _nothing),
}
# Jobs whose only effect is a timestamp in Redis that says "alive": a second run writes it
# again, which is what a heartbeat is for; they touch nothing else.
HEARTBEATS = {name for name in CASES if "heartbeat" in name}


def _heartbeat_key(name: str) -> str:
    from cpis.health import HEARTBEAT_KEY
    from operations.services import pool_heartbeat_keys

    if name == "worker-heartbeat":
        return HEARTBEAT_KEY
    from notifications.services import delivery_queue

    queue = name.removeprefix("pool-heartbeat-")
    return {delivery_queue(channel): key for channel, key in pool_heartbeat_keys().items()}[queue]


def test_every_schedule_entry_has_a_case():
    assert set(CASES) == set(settings.CELERY_BEAT_SCHEDULE)


def _run(name: str, capture) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE[name]
    app.loader.import_default_modules()
    with capture(execute=True):
        result = app.tasks[entry["task"]].apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {}))
    assert result.successful(), result.traceback


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_second_run_in_the_same_slot_does_nothing(name, request, django_capture_on_commit_callbacks):
    needs, give_work = CASES[name]
    fixtures = {fixture: request.getfixturevalue(fixture) for fixture in needs}
    give_work(fixtures)
    pds_requests = (lambda: fixtures["pds"].stats()["patient_requests"]) if "pds" in fixtures else (lambda: 0)
    cache.clear()
    before = _database()

    _run(name, django_capture_on_commit_callbacks)
    after_first = (_database(), len(mail.outbox), pds_requests())
    _run(name, django_capture_on_commit_callbacks)
    after_second = (_database(), len(mail.outbox), pds_requests())

    if name in HEARTBEATS:
        assert after_first[0] == before
        assert cache.get(_heartbeat_key(name)) is not None
    elif name != "audit-partitions-ensure":
        # The case gave the job work: its first run changed something.
        assert after_first[0] != before or after_first[1:] != (0, 0)
    assert after_second == after_first
