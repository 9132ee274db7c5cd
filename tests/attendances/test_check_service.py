"""child_check: the one service the web journey and (later) the FHIR API call."""

import datetime as dt
import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import Role
from attendances.models import Visit
from attendances.services import child_check, visit_history_trim
from audit.models import AuditAction, AuditEvent
from notifications.models import Notification
from tests.factories import PlanFactory, VisitFactory, nhs_number_for

# Also on SQLite, as the demo runs (`make test`, cpis/settings/test_sqlite.py).
pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]

TODAY = dt.date(2026, 6, 15)
NOW = timezone.make_aware(dt.datetime(2026, 6, 15, 14, 30))


@pytest.fixture
def clinician(role_user):
    return role_user(Role.CLINICIAN)


@pytest.fixture
def check(clinician, care_setting):
    """check(nhs_number, **overrides) → CheckResult, as the clinician at the care setting."""

    def run(nhs_number, **overrides):
        kwargs = dict(
            nhs_number=nhs_number,
            date_of_birth=None,
            arrived_at=NOW,
            user=clinician,
            organisation=care_setting,
            role=Role.CLINICIAN,
            today=TODAY,
        )
        kwargs.update(overrides)
        return child_check(**kwargs)

    return run


def _plan(**kwargs):
    kwargs.setdefault("start_date", TODAY - dt.timedelta(days=100))
    return PlanFactory(**kwargs)


def test_child_with_no_plan_gets_no_visit_no_notification_but_an_audit(check, clinician, care_setting):
    number = nhs_number_for(500)

    result = check(number)

    assert result.plans == []
    assert result.visit is None
    assert result.previous_visits == []
    assert not Visit.objects.exists()
    assert not Notification.objects.exists()
    event = AuditEvent.objects.get()
    assert (event.action, event.nhs_number, event.user, event.organisation) == (
        AuditAction.CHILD_CHECKED,
        number,
        clinician,
        care_setting,
    )
    assert event.detail["plan_ids"] == []
    assert event.roles == Role.CLINICIAN


def test_child_on_one_plan_records_the_visit_and_notifies_the_la(check, clinician, care_setting, local_authority):
    plan = _plan(organisation=local_authority)

    result = check(plan.nhs_number)

    assert [p.pk for p in result.plans] == [plan.pk]
    assert result.plans[0].organisation == local_authority
    visit = Visit.objects.get()
    assert result.visit == visit
    assert (visit.nhs_number, visit.arrived_at, visit.care_setting, visit.checked_by) == (
        plan.nhs_number,
        NOW,
        care_setting,
        clinician,
    )
    assert (visit.checked_by_name, visit.checked_by_role) == (clinician.full_name, Role.CLINICIAN)
    notification = Notification.objects.get()
    assert notification.local_authority == local_authority
    assert result.notification_ids == [notification.pk]
    event = AuditEvent.objects.get(action=AuditAction.CHILD_CHECKED)
    assert event.detail["visit_id"] == visit.pk
    assert event.detail["notification_ids"] == [notification.pk]


def test_plans_at_two_las_make_two_notifications(check, local_authority, other_local_authority):
    plan = _plan(organisation=local_authority)
    _plan(organisation=other_local_authority, nhs_number=plan.nhs_number, looked_after=True)

    result = check(plan.nhs_number)

    assert len(result.plans) == 2
    assert [g.local_authority for g in result.by_local_authority] == [local_authority, other_local_authority]
    assert Visit.objects.count() == 1
    assert sorted(n.local_authority_id for n in Notification.objects.all()) == sorted(
        [local_authority.pk, other_local_authority.pk]
    )


def test_repeat_check_at_the_same_setting_within_24_hours_joins_the_notification(check, local_authority):
    plan = _plan(organisation=local_authority)

    check(plan.nhs_number)
    check(plan.nhs_number, arrived_at=NOW + dt.timedelta(hours=3))

    assert Visit.objects.count() == 2
    assert Notification.objects.get().attendance_count == 2


@pytest.mark.parametrize(
    ("ended_days_ago", "shown"),
    [(10, True), (365, True), (366, False)],
    ids=["ended-10-days-ago", "ended-365-days-ago", "ended-366-days-ago"],
)
def test_ended_plan_is_shown_only_within_365_days(check, ended_days_ago, shown):
    plan = _plan(start_date=TODAY - dt.timedelta(days=800), end_date=TODAY - dt.timedelta(days=ended_days_ago))

    result = check(plan.nhs_number)

    assert bool(result.plans) is shown
    assert Visit.objects.exists() is shown
    assert Notification.objects.exists() is shown


@pytest.mark.parametrize(
    ("due_days_ago", "shown"),
    [(-60, True), (28, True), (29, False)],
    ids=["due-in-60-days", "due-28-days-ago", "due-29-days-ago"],
)
def test_unborn_child_plan_is_shown_until_28_days_after_the_due_date(check, due_days_ago, shown):
    plan = _plan(unborn=True, expected_due_date=TODAY - dt.timedelta(days=due_days_ago))

    result = check(plan.nhs_number)

    assert bool(result.plans) is shown
    assert Visit.objects.exists() is shown
    if shown:
        assert result.plans[0].plan_type == "UCPP"


def test_withdrawn_plan_is_never_shown_and_records_nothing(check):
    plan = _plan(withdrawn_in_error=True)

    result = check(plan.nhs_number)

    assert result.plans == []
    assert not Visit.objects.exists()
    assert not Notification.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.CHILD_CHECKED, nhs_number=plan.nhs_number).exists()


def test_withdrawn_plan_beside_a_live_one_shows_only_the_live_one(check, local_authority, other_local_authority):
    live = _plan(organisation=local_authority)
    _plan(organisation=other_local_authority, nhs_number=live.nhs_number, withdrawn_in_error=True)

    result = check(live.nhs_number)

    assert [p.pk for p in result.plans] == [live.pk]
    assert Notification.objects.get().local_authority == local_authority


def test_date_of_birth_differing_from_the_plan_flags_a_mismatch(check):
    plan = _plan(date_of_birth=dt.date(2018, 3, 27))

    mismatch = check(plan.nhs_number, date_of_birth=dt.date(2018, 3, 28))
    match = check(plan.nhs_number, date_of_birth=dt.date(2018, 3, 27))
    not_given = check(plan.nhs_number, date_of_birth=None)

    assert (mismatch.dob_mismatch, match.dob_mismatch, not_given.dob_mismatch) == (True, False, False)
    # The alert still shows and the visit is still recorded: the identity warning sits beside it.
    assert mismatch.plans and mismatch.visit is not None
    assert AuditEvent.objects.filter(detail__dob_mismatch=True).count() == 1


def test_silent_read_shows_the_plans_and_visits_but_records_nothing(role_user, care_setting):
    lead = role_user(Role.SAFEGUARDING_LEAD)
    plan = _plan()
    VisitFactory(nhs_number=plan.nhs_number)

    result = child_check(
        nhs_number=plan.nhs_number,
        date_of_birth=None,
        arrived_at=NOW,
        user=lead,
        organisation=care_setting,
        role=Role.SAFEGUARDING_LEAD,
        notify=False,
        today=TODAY,
    )

    assert [p.pk for p in result.plans] == [plan.pk]
    assert len(result.previous_visits) == 1
    assert result.visit is None
    assert Visit.objects.count() == 1
    assert not Notification.objects.exists()
    event = AuditEvent.objects.get()
    assert (event.action, event.nhs_number, event.user) == (AuditAction.CHILD_VIEWED_SILENTLY, plan.nhs_number, lead)


def test_clinician_may_not_read_silently(check):
    plan = _plan()
    with pytest.raises(PermissionDenied):
        check(plan.nhs_number, notify=False)
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("role", [Role.SOCIAL_WORKER, Role.PLAN_MANAGER, Role.ORG_ADMIN, Role.NATIONAL_ADMIN])
def test_roles_that_do_not_check_are_refused(check, role):
    with pytest.raises(PermissionDenied):
        check(_plan().nhs_number, role=role)
    assert not Visit.objects.exists()


def test_a_local_authority_cannot_check(check, local_authority):
    with pytest.raises(PermissionDenied):
        check(_plan().nhs_number, organisation=local_authority)


@pytest.mark.parametrize("bad", ["9434765918", "123", "", "94347659190", "943476591x"])
def test_invalid_nhs_numbers_are_refused_and_nothing_is_recorded(check, bad):
    with pytest.raises(ValidationError):
        check(bad)
    assert not AuditEvent.objects.exists()


def test_nhs_number_with_spaces_is_accepted(check):
    plan = _plan(nhs_number="9434765919")
    result = check("943 476 5919")
    assert result.nhs_number == "9434765919"
    assert result.plans[0].pk == plan.pk


def test_previous_visits_are_the_newest_25_newest_first_without_this_one(check):
    plan = _plan()
    for hours in range(30):
        VisitFactory(nhs_number=plan.nhs_number, arrived_at=NOW - dt.timedelta(hours=hours + 1))

    result = check(plan.nhs_number)

    assert len(result.previous_visits) == 25
    times = [v.arrived_at for v in result.previous_visits]
    assert times == sorted(times, reverse=True)
    assert times[0] == NOW - dt.timedelta(hours=1)
    assert result.visit not in result.previous_visits


def test_the_same_form_submitted_twice_records_one_visit(check):
    plan = _plan()
    token = uuid.uuid4()

    first = check(plan.nhs_number, idempotency_key=token)
    second = check(plan.nhs_number, idempotency_key=token)

    assert Visit.objects.count() == 1
    assert second.visit == first.visit
    assert second.repeated and not first.repeated
    assert Notification.objects.get().attendance_count == 1
    # Both submissions were looks at the child, so both are audited.
    assert AuditEvent.objects.filter(action=AuditAction.CHILD_CHECKED).count() == 2


def test_a_form_sent_again_after_25_newer_visits_still_records_nothing(check):
    # The form's own visit is found even when it is no longer among the newest 25.
    plan = _plan()
    token = uuid.uuid4()
    first = check(plan.nhs_number, idempotency_key=token, arrived_at=NOW - dt.timedelta(days=3))
    for hours in range(30):
        VisitFactory(nhs_number=plan.nhs_number, arrived_at=NOW - dt.timedelta(hours=hours + 1))

    again = check(plan.nhs_number, idempotency_key=token)

    assert again.repeated and again.visit == first.visit
    assert Visit.objects.filter(nhs_number=plan.nhs_number).count() == 31
    assert len(again.previous_visits) == 25
    assert first.visit not in again.previous_visits
    assert again.previous_visits[0].arrived_at == NOW - dt.timedelta(hours=1)


def test_a_form_token_sent_back_with_another_child_is_a_new_check(check):
    first, other = _plan(), _plan()
    token = uuid.uuid4()

    check(first.nhs_number, idempotency_key=token)
    result = check(other.nhs_number, idempotency_key=token)

    assert result.visit.nhs_number == other.nhs_number
    assert Visit.objects.count() == 2


def test_naive_arrival_time_is_refused(check):
    with pytest.raises(ValueError, match="aware"):
        check(_plan().nhs_number, arrived_at=dt.datetime(2026, 6, 15, 14, 30))


def test_trim_keeps_the_newest_25(db):
    number = nhs_number_for(7)
    visits = [VisitFactory(nhs_number=number, arrived_at=NOW - dt.timedelta(hours=h)) for h in range(27)]
    other_child = VisitFactory(nhs_number=nhs_number_for(8), arrived_at=NOW - dt.timedelta(days=400))

    assert visit_history_trim(nhs_number=number) == 2
    assert visit_history_trim(nhs_number=number) == 0

    kept = set(Visit.objects.filter(nhs_number=number).values_list("pk", flat=True))
    assert kept == {v.pk for v in visits[:25]}
    assert Visit.objects.filter(pk=other_child.pk).exists()
