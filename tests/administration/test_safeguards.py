"""Automatic safeguards: training-expiry reminders, locking unused accounts, expired training
blocking child data at once."""

import datetime as dt

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role, TrainingRecord, User, UserSession
from administration import tasks
from audit.models import AuditAction, AuditEvent
from tests.accounts.test_login import password_step

pytestmark = pytest.mark.django_db


def trained_until(user: User, expires_on: dt.date) -> TrainingRecord:
    user.training_records.all().delete()
    return TrainingRecord.objects.create(
        user=user, course="CP-IS e-learning", completed_on=expires_on - dt.timedelta(days=365), expires_on=expires_on
    )


def test_beat_runs_both_tasks_daily():
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "accounts.administration.tasks.training_expiry_reminders_send",
        "accounts.administration.tasks.unused_accounts_lock",
    } <= schedule


def test_every_scheduled_task_is_registered_under_its_name():
    # The beat schedule and tasks already queued name a task by string: a module that moves
    # (accounts/administration/ became administration/) must keep its tasks' names.
    from cpis.celery import app

    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled <= set(app.tasks)


def test_reminder_is_sent_once_within_30_days_of_expiry(role_user, django_capture_on_commit_callbacks):
    today = timezone.localdate()
    due = role_user(Role.CLINICIAN)
    trained_until(due, today + dt.timedelta(days=30))
    not_yet = role_user(Role.CLINICIAN)
    trained_until(not_yet, today + dt.timedelta(days=31))

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.training_expiry_reminders_send.delay().get() == 1
    assert [m.to for m in mail.outbox] == [[due.email]]
    assert "expires on" in mail.outbox[0].body
    # Run again (beat twice, or a retry): nothing more is sent.
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.training_expiry_reminders_send.delay().get() == 0
    assert len(mail.outbox) == 1
    event = AuditEvent.objects.get(action=AuditAction.TRAINING_REMINDER_SENT)
    assert event.user is None and event.detail["subject_user_id"] == due.pk


def test_a_missed_day_is_caught_up(role_user, django_capture_on_commit_callbacks):
    user = role_user(Role.SOCIAL_WORKER)
    trained_until(user, timezone.localdate() + dt.timedelta(days=12))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.training_expiry_reminders_send.delay().get() == 1


def test_renewed_or_deactivated_users_get_no_reminder(role_user, django_capture_on_commit_callbacks):
    today = timezone.localdate()
    renewed = role_user(Role.CLINICIAN)
    trained_until(renewed, today + dt.timedelta(days=5))
    TrainingRecord.objects.create(user=renewed, course="CP-IS refresher", completed_on=today)
    gone = role_user(Role.CLINICIAN)
    trained_until(gone, today + dt.timedelta(days=5))
    User.objects.filter(pk=gone.pk).update(is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.training_expiry_reminders_send.delay().get() == 0
    assert not mail.outbox


def test_accounts_unused_for_90_days_are_locked_and_their_sessions_end(role_user, client_for):
    now = timezone.now()
    idle = role_user(Role.CLINICIAN)
    session = client_for(idle)
    User.objects.filter(pk=idle.pk).update(last_login=now - dt.timedelta(days=91))
    recent = role_user(Role.CLINICIAN)
    User.objects.filter(pk=recent.pk).update(last_login=now - dt.timedelta(days=89))
    never = role_user(Role.CLINICIAN)
    User.objects.filter(pk=never.pk).update(last_login=None, date_joined=now - dt.timedelta(days=100))
    new = role_user(Role.CLINICIAN)
    User.objects.filter(pk=new.pk).update(last_login=None, date_joined=now - dt.timedelta(days=3))

    assert tasks.unused_accounts_lock.delay().get() == 2
    assert set(User.objects.filter(is_active=False).values_list("pk", flat=True)) == {idle.pk, never.pk}
    assert not UserSession.objects.filter(user=idle).exists()
    assert session.get(reverse("accounts:home")).status_code == 302
    assert password_step(Client(), idle).status_code == 400
    locked = AuditEvent.objects.filter(action=AuditAction.ACCOUNT_LOCKED)
    assert {e.detail["subject_user_id"] for e in locked} == {idle.pk, never.pk}
    # Running again locks nobody twice.
    assert tasks.unused_accounts_lock.delay().get() == 0


def test_a_reactivated_account_gets_a_fresh_period_before_locking_again(role_user, client_for, care_setting):
    admin = role_user(Role.ORG_ADMIN, care_setting)
    idle = role_user(Role.CLINICIAN, care_setting)
    User.objects.filter(pk=idle.pk).update(last_login=timezone.now() - dt.timedelta(days=200))
    assert tasks.unused_accounts_lock.delay().get() == 1
    client_for(admin).post(reverse("administration:user_reactivate", kwargs={"user_id": idle.pk}))
    assert tasks.unused_accounts_lock.delay().get() == 0
    idle.refresh_from_db()
    assert idle.is_active


def test_lock_period_is_configurable(role_user, settings):
    settings.ACCOUNT_UNUSED_LOCK_DAYS = 10
    user = role_user(Role.CLINICIAN)
    User.objects.filter(pk=user.pk).update(last_login=timezone.now() - dt.timedelta(days=11))
    assert tasks.unused_accounts_lock.delay().get() == 1


def test_expired_training_blocks_child_data_at_once(role_user, client_for):
    # No task needed: the gate reads the training expiry on every request.
    user = role_user(Role.CLINICIAN)
    client = client_for(user)
    trained_until(user, timezone.localdate())
    assert "You cannot see child protection information yet" not in client.get("/").content.decode()
    trained_until(user, timezone.localdate() - dt.timedelta(days=1))
    page = client.get("/").content.decode()
    assert "You cannot see child protection information yet" in page
    assert "Your CP-IS training expired on" in page


def test_expired_training_refuses_a_child_data_view(rf, role_user):
    from django.http import HttpResponse

    from accounts.access import role_required

    @role_required(Role.CLINICIAN)
    def child_view(request):
        return HttpResponse("child data")

    user = role_user(Role.CLINICIAN)
    trained_until(user, timezone.localdate() - dt.timedelta(days=1))
    request = rf.get("/")
    request.user = user
    request.user.is_verified = lambda: True
    request.roles = frozenset({Role.CLINICIAN})
    request.organisation = user.memberships.get().organisation
    response = child_view(request)
    assert response.status_code == 403 and b"child data" not in response.rendered_content.encode()
