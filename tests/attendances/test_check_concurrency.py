"""Two genuinely simultaneous checks of one child: both kept, still at most 25, one episode."""

import datetime as dt
import threading
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Role
from attendances.models import Visit
from attendances.services import child_check
from notifications.models import Notification
from tests.factories import PlanFactory, VisitFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _simultaneously(*calls):
    """Runs each call in its own thread (own database connection), released together."""
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def run(i, call):
        try:
            barrier.wait(timeout=10)
            results[i] = call()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    return results


def _check(user, organisation, nhs_number, token=None):
    return lambda: child_check(
        nhs_number=nhs_number,
        date_of_birth=None,
        arrived_at=timezone.now(),
        user=user,
        organisation=organisation,
        role=Role.CLINICIAN,
        idempotency_key=token or uuid.uuid4(),
    )


def test_two_simultaneous_checks_are_both_kept_and_the_history_stays_at_25(role_user, care_setting):
    first, second = role_user(Role.CLINICIAN), role_user(Role.CLINICIAN)
    plan = PlanFactory()
    now = timezone.now()
    old = [VisitFactory(nhs_number=plan.nhs_number, arrived_at=now - dt.timedelta(days=d + 1)) for d in range(24)]

    # Trims run in-process after each commit (CELERY_TASK_ALWAYS_EAGER in test settings).
    results = _simultaneously(
        _check(first, care_setting, plan.nhs_number), _check(second, care_setting, plan.nhs_number)
    )

    new_ids = {r.visit.pk for r in results}
    assert len(new_ids) == 2
    kept = set(Visit.objects.filter(nhs_number=plan.nhs_number).values_list("pk", flat=True))
    assert len(kept) == 25
    assert new_ids <= kept
    assert old[-1].pk not in kept  # the oldest went
    # Whichever went second saw the first one's visit in its history.
    assert sorted(len(r.previous_visits) for r in results) == [24, 25]
    # Same child, same setting, same episode: one notification, counted twice.
    assert Notification.objects.get().attendance_count == 2


def test_a_form_submitted_twice_at_the_same_instant_records_one_visit(role_user, care_setting):
    user = role_user(Role.CLINICIAN)
    plan = PlanFactory()
    token = uuid.uuid4()

    results = _simultaneously(
        _check(user, care_setting, plan.nhs_number, token), _check(user, care_setting, plan.nhs_number, token)
    )

    assert Visit.objects.count() == 1
    assert results[0].visit.pk == results[1].visit.pk
    assert sorted(r.repeated for r in results) == [False, True]
    assert Notification.objects.get().attendance_count == 1
