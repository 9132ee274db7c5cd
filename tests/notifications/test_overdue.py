"""Overdue after one working day, and a reminder to the LA's admins (a beat task)."""

import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from notifications.models import Notification
from notifications.services import notifications_mark_overdue
from notifications.working_days import one_working_day_after
from plans.models import Plan
from tests.factories import user_with_role
from tests.notifications.checks import inbox_notification, record_check
from tests.notifications.mail_servers import SilentMailServer
from tests.notifications.worker import wait_until

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("received", "due"),
    [
        ("2026-11-25 14:05", "2026-11-26 14:05"),  # Wednesday → Thursday
        ("2026-11-27 16:30", "2026-11-30 16:30"),  # Friday → Monday
        ("2026-11-28 10:00", "2026-11-30 10:00"),  # Saturday → Monday
        ("2026-12-24 09:00", "2026-12-29 09:00"),  # Christmas Eve → over Christmas and the substitute Boxing Day
        ("2026-04-02 12:00", "2026-04-07 12:00"),  # Thursday before Good Friday → after Easter Monday
        ("2026-03-28 23:30", "2026-03-30 23:30"),  # across the clocks going forward
    ],
)
def test_one_working_day_after(received, due):
    moment = datetime.strptime(received, "%Y-%m-%d %H:%M").replace(tzinfo=LONDON)
    assert one_working_day_after(moment) == datetime.strptime(due, "%Y-%m-%d %H:%M").replace(tzinfo=LONDON)


def test_extra_holidays_from_settings_count_too(settings):
    settings.NOTIFICATION_EXTRA_HOLIDAYS = ["2026-11-26"]
    moment = datetime(2026, 11, 25, 9, 0, tzinfo=LONDON)
    assert one_working_day_after(moment).date().isoformat() == "2026-11-27"


@pytest.mark.parametrize(
    ("received", "due"),
    [
        ("2031-04-10 11:00", "2031-04-15 11:00"),  # Thursday before Good Friday → after Easter Monday
        ("2033-12-23 15:00", "2033-12-28 15:00"),  # Friday → Christmas on Sunday: substitute days
        ("2035-05-04 10:00", "2035-05-08 10:00"),  # Friday → over the early May bank holiday
        ("2040-08-24 09:30", "2040-08-28 09:30"),  # Friday → over the summer bank holiday
    ],
)
def test_bank_holidays_are_known_for_years_long_after_the_code_was_written(received, due):
    moment = datetime.strptime(received, "%Y-%m-%d %H:%M").replace(tzinfo=LONDON)
    assert one_working_day_after(moment) == datetime.strptime(due, "%Y-%m-%d %H:%M").replace(tzinfo=LONDON)


def test_extra_holidays_add_to_the_bank_holidays_of_a_later_year(settings):
    # A one-off day the package does not know of, the day after Easter Monday 2031.
    settings.NOTIFICATION_EXTRA_HOLIDAYS = ["2031-04-15"]
    moment = datetime(2031, 4, 10, 11, 0, tzinfo=LONDON)
    assert one_working_day_after(moment) == datetime(2031, 4, 16, 11, 0, tzinfo=LONDON)


@pytest.mark.django_db
def test_overdue_notifications_are_marked_once_and_the_las_admins_reminded(la, setting, client_for):
    admins = [user_with_role(Role.ORG_ADMIN, la) for _ in range(2)]
    late = inbox_notification(la, setting, family_name="Latecomer")
    on_time = inbox_notification(la, setting)
    late.due_at = timezone.now() - timedelta(minutes=1)
    late.save()

    assert notifications_mark_overdue() == {la.pk: 1}
    assert notifications_mark_overdue() == {}  # the next run reminds nobody again

    late.refresh_from_db()
    on_time.refresh_from_db()
    assert late.overdue_since is not None and on_time.overdue_since is None
    assert sorted(m.to[0] for m in mail.outbox) == sorted(a.email for a in admins)
    assert all(m.subject == "CP-IS: 1 notification overdue at Northshire County Council" for m in mail.outbox)

    social_worker = client_for(user_with_role(Role.SOCIAL_WORKER, la))
    body = social_worker.get(reverse("notifications:inbox"), {"status": "overdue"}).content.decode()
    assert "Latecomer" in body and "Overdue" in body


@pytest.mark.django_db
def test_a_reminder_that_cannot_be_sent_leaves_the_notifications_for_the_next_run(la, setting, settings):
    user_with_role(Role.ORG_ADMIN, la)
    late = inbox_notification(la, setting)
    late.due_at = timezone.now() - timedelta(minutes=1)
    late.save()
    settings.EMAIL_BACKEND = "tests.notifications.test_overdue.BrokenEmailBackend"

    assert notifications_mark_overdue() == {}
    late.refresh_from_db()
    assert late.overdue_since is not None and late.overdue_reminded_at is None

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notifications_mark_overdue() == {la.pk: 1}
    late.refresh_from_db()
    assert late.overdue_reminded_at is not None
    assert notifications_mark_overdue() == {}
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_a_mail_server_that_never_answers_holds_up_no_repeat_check_and_the_job_ends_by_its_timeout(
    la, setting, settings
):
    """The overdue job sends its reminder to a server that accepts the connection and is then
    silent. Meanwhile a clinician checks the same child again (joining the overdue
    notification): the check answers at once, no transaction is left open, and the job gives
    up after EMAIL_TIMEOUT with the reminder left for the next run."""
    user_with_role(Role.ORG_ADMIN, la)
    late = inbox_notification(la, setting)
    Notification.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    plan = Plan.objects.get(nhs_number=late.nhs_number)
    silent = SilentMailServer().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", silent.port, False
    settings.EMAIL_TIMEOUT = 3
    outcome: dict = {}

    def overdue_job() -> None:
        try:
            outcome["result"] = notifications_mark_overdue()
        finally:
            connection.close()

    job = threading.Thread(target=overdue_job)
    started = time.monotonic()
    job.start()
    try:
        wait_until(lambda: silent.connections, timeout=10, interval=0.02, what="the reminder's SMTP connection")
        checked = time.monotonic()
        record_check(plans=[plan], care_setting=setting)
        check_took = time.monotonic() - checked
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND state LIKE 'idle in transaction%%' AND pid <> pg_backend_pid()"
            )
            (open_transactions,) = cursor.fetchone()
        still_waiting = job.is_alive()
        job.join(timeout=30)
        job_took = time.monotonic() - started
    finally:
        silent.stop()
        job.join(timeout=30)

    assert check_took < 1, f"the repeat check waited {check_took:.1f} s"
    assert open_transactions == 0
    assert still_waiting, "the job was to be waiting on the silent server during the check"
    assert not job.is_alive() and job_took < 3 + 10, job_took
    assert outcome["result"] == {}
    late.refresh_from_db()
    assert late.attendance_count == 2
    assert late.overdue_since is not None and late.overdue_reminded_at is None


class BrokenEmailBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("SMTP server down")
