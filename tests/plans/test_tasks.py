"""The nightly tasks are scheduled and run their services (eagerly here, as in `make run`)."""

from datetime import date, timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from cpis.celery import app
from plans.models import Plan
from plans.tasks import plans_end_at_eighteen, plans_purge
from tests.factories import PlanFactory

pytestmark = pytest.mark.django_db


def test_nightly_tasks_are_in_the_beat_schedule():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"plans.tasks.plans_end_at_eighteen_task", "plans.tasks.plans_purge_task"} <= tasks


def test_every_scheduled_task_is_registered_under_its_scheduled_name():
    # The functions were renamed; the names beat and queued messages carry must still resolve.
    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled - set(app.tasks) == set()
    assert plans_end_at_eighteen.name == "plans.tasks.plans_end_at_eighteen_task"


def test_nightly_tasks_end_plans_at_18_and_purge_old_ones():
    today = timezone.localdate()
    adult = PlanFactory(date_of_birth=today - timedelta(days=365 * 18 + 30), start_date=today - timedelta(400))
    old = PlanFactory(start_date=date(2015, 1, 1), end_date=date(2016, 1, 1))
    plans_end_at_eighteen.delay()
    plans_purge.delay()
    adult.refresh_from_db()
    assert adult.end_date is not None and adult.end_date <= today
    assert not Plan.objects.filter(pk=old.pk).exists()
