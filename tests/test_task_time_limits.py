"""Every Celery task stops at a soft and then a hard time limit, under the broker's visibility
timeout; a task that talks to the outside world (SMTP, webhooks, PDS, the broker, Redis) has
limits of its own, far tighter than the defaults."""

import pytest
from django.conf import settings

from cpis.celery import app

# The tasks that wait on something outside the database, and what they wait on.
NETWORKED = {
    "notifications.tasks.delivery_send": "SMTP or an LA's webhook endpoint",
    "notifications.tasks.deliveries_fan_out": "the broker",
    "notifications.tasks.deliveries_sweep": "the broker",
    "notifications.tasks.notifications_mark_overdue": "SMTP",
    "accounts.administration.tasks.training_expiry_reminders_send": "SMTP",
    "accounts.tasks.password_reset_email_send": "SMTP",
    "accounts.tasks.passkey_change_email_send": "SMTP",
    "identity.tasks.held_uploads_retry_task": "the broker",
    "identity.tasks.identities_reverify_task": "PDS",
    "plans.tasks.plan_upload_analyse_task": "PDS",
    "plans.tasks.plan_upload_apply_task": "PDS",
    "operations.tasks.pool_heartbeat": "Redis",
    "privacy.tasks.open_alerts_email_send": "SMTP",
}


def _our_tasks() -> dict:
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def _limits(task) -> tuple[float | None, float | None]:
    soft = task.soft_time_limit if task.soft_time_limit is not None else app.conf.task_soft_time_limit
    hard = task.time_limit if task.time_limit is not None else app.conf.task_time_limit
    return soft, hard


def test_the_networked_tasks_listed_here_exist():
    assert set(NETWORKED) <= set(_our_tasks())


@pytest.mark.parametrize("name", sorted(_our_tasks()))
def test_every_task_has_a_soft_and_a_hard_time_limit_under_the_visibility_timeout(name):
    soft, hard = _limits(_our_tasks()[name])
    assert soft and hard, f"{name} has no time limit"
    assert soft < hard < settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]


@pytest.mark.parametrize("name", sorted(NETWORKED))
def test_a_task_that_talks_to_the_outside_world_sets_its_own_limits(name):
    task = _our_tasks()[name]
    assert task.soft_time_limit is not None and task.time_limit is not None, f"{name} waits on {NETWORKED[name]}"
    assert task.soft_time_limit < task.time_limit


def test_a_delivery_is_stopped_before_its_claim_lease_runs_out():
    soft, hard = _limits(_our_tasks()["notifications.tasks.delivery_send"])
    assert soft < hard < settings.NOTIFICATION_CLAIM_LEASE
