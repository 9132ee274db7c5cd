"""The demo without a worker: overdue marking and background upload checks in the web process."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import RequestFactory
from django.utils import timezone

from core import background
from cpis import in_process
from notifications.models import Notification
from tests.notifications.checks import inbox_notification

# Also on SQLite, as the demo runs (`make test`, cpis/settings/test_sqlite.py).
pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


def test_requests_mark_overdue_notifications_once_per_interval(local_authority, care_setting):
    notification = inbox_notification(local_authority, care_setting)
    Notification.objects.filter(pk=notification.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    cache.delete("in-process:overdue")
    middleware = in_process.PeriodicTasksMiddleware(lambda request: "page")

    assert middleware(RequestFactory().get("/")) == "page"

    notification.refresh_from_db()
    assert notification.overdue_since is not None
    # The next request within the interval does not run the job again.
    second = inbox_notification(local_authority, care_setting)
    Notification.objects.filter(pk=second.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    middleware(RequestFactory().get("/"))
    second.refresh_from_db()
    assert second.overdue_since is None


def test_without_a_broker_a_task_runs_in_a_thread(settings, monkeypatch):
    settings.IN_PROCESS_TASKS = True
    ran = []
    started = []

    class FakeTask:
        name = "fake"

        def run(self, *args):
            ran.append(args)

        def delay(self, *args):  # pragma: no cover - must not be called
            raise AssertionError("no broker: delay must not be used")

    class ImmediateThread:
        def __init__(self, target, name, daemon):
            started.append(name)
            self.target = target

        def start(self):
            self.target()

    monkeypatch.setattr(background.threading, "Thread", ImmediateThread)
    background.run_in_background(FakeTask(), 7)
    assert ran == [(7,)] and started == ["in-process-fake"]


def test_with_a_broker_a_task_is_queued(settings):
    settings.IN_PROCESS_TASKS = False
    queued = []

    class FakeTask:
        name = "fake"

        def delay(self, *args):
            queued.append(args)

    background.run_in_background(FakeTask(), 3)
    assert queued == [(3,)]


def test_with_a_broker_a_request_publishes_through_the_publish_it_gives(settings):
    settings.IN_PROCESS_TASKS = False
    published = []

    class FakeTask:
        name = "fake"

        def delay(self, *args):  # pragma: no cover - must not be called
            raise AssertionError("a request's publish goes through the breaker, not delay")

    task = FakeTask()
    background.run_in_background(task, 3, publish=lambda t, args: published.append((t, args)))
    assert published == [(task, (3,))]
