"""The plan rules through the service functions: visibility boundaries (with Europe/London
clock changes), the 18th birthday, the purge, and the rules every plan write applies."""

import datetime as dt
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import override_settings

from audit.models import AuditAction, AuditEvent
from plans.models import Plan, PlanChange, eighteenth_birthday
from plans.services import (
    la_contacts_update,
    plan_create,
    plan_end,
    plan_update,
    plan_withdraw,
    plans_end_at_eighteen,
    plans_purge,
)
from tests.factories import PlanFactory, nhs_number_for

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")


def _visible(plan, today: date) -> bool:
    return Plan.objects.filter(pk=plan.pk).visible(today=today).exists()


@pytest.mark.parametrize("plan_type", ["CPP", "LAC"])
def test_ended_cpp_and_lac_are_shown_for_365_days_after_the_end_date(plan_type):
    plan = PlanFactory(plan_type=plan_type, start_date=date(2024, 1, 1), end_date=date(2025, 3, 1))
    assert _visible(plan, date(2025, 3, 1))
    assert _visible(plan, date(2025, 3, 1) + timedelta(days=365))
    assert not _visible(plan, date(2025, 3, 1) + timedelta(days=366))


def test_open_plans_are_shown_and_withdrawn_plans_never():
    open_plan = PlanFactory()
    withdrawn = PlanFactory(withdrawn=True)
    withdrawn_open_ucpp = PlanFactory(unborn=True, withdrawn=True)
    today = date.today()  # noqa: DTZ011 - any day will do
    assert _visible(open_plan, today)
    assert not _visible(withdrawn, today)
    assert not _visible(withdrawn_open_ucpp, today)


@pytest.mark.parametrize(
    ("end_date", "due_date", "last_day"),
    [
        (None, date(2026, 5, 10), date(2026, 6, 7)),  # open: 28 days after the due date
        (date(2026, 4, 1), date(2026, 5, 10), date(2026, 4, 29)),  # ended before the due date
        (date(2026, 6, 1), date(2026, 5, 10), date(2026, 6, 7)),  # ended after the due date
    ],
)
def test_ucpp_is_shown_until_28_days_after_the_earlier_of_end_and_due_date(end_date, due_date, last_day):
    plan = PlanFactory(unborn=True, start_date=date(2026, 1, 1), end_date=end_date, expected_due_date=due_date)
    assert _visible(plan, last_day)
    assert not _visible(plan, last_day + timedelta(days=1))


def _at(moment: str):
    return time_machine.travel(dt.datetime.fromisoformat(moment), tick=False)


@pytest.mark.parametrize(
    ("instant_utc", "shown"),
    [
        # Summer (BST, UTC+1): 23:30 UTC on 30 June is already 1 July in London, day 365.
        ("2026-06-30T22:59:00+00:00", True),
        ("2026-06-30T23:30:00+00:00", True),
        # 23:30 UTC on 1 July is 2 July in London: day 366, gone, though it is 1 July in UTC.
        ("2026-07-01T23:30:00+00:00", False),
    ],
)
def test_visibility_days_are_london_days_in_summer(instant_utc, shown):
    plan = PlanFactory(start_date=date(2025, 1, 1), end_date=date(2025, 7, 1))
    with _at(instant_utc):
        assert Plan.objects.filter(pk=plan.pk).visible().exists() is shown


@pytest.mark.parametrize(
    ("instant_utc", "shown"),
    [
        # Clocks go back at 01:00 UTC on 25 October 2026. Day 365 of a plan ended 25 October
        # 2025 runs from 23:00 UTC on the 24th (00:00 BST) to 23:59 GMT on the 25th.
        ("2026-10-24T22:59:00+00:00", True),  # 23:59 BST on the 24th, day 364
        ("2026-10-24T23:00:00+00:00", True),  # 00:00 BST on the 25th, day 365
        ("2026-10-25T23:59:00+00:00", True),  # 23:59 GMT on the 25th, still day 365
        ("2026-10-26T00:00:00+00:00", False),  # 00:00 GMT on the 26th, day 366
    ],
)
def test_visibility_days_are_london_days_across_the_autumn_clock_change(instant_utc, shown):
    plan = PlanFactory(start_date=date(2025, 1, 1), end_date=date(2025, 10, 25))
    with _at(instant_utc):
        assert Plan.objects.filter(pk=plan.pk).visible().exists() is shown


def test_ucpp_day_29_arrives_at_london_midnight_in_spring():
    # Clocks go forward at 01:00 UTC on 29 March 2026; 28 days after 1 March is 29 March.
    plan = PlanFactory(unborn=True, start_date=date(2025, 9, 1), expected_due_date=date(2026, 3, 1))
    with _at("2026-03-29T22:59:00+00:00"):  # 23:59 BST on the 29th
        assert Plan.objects.filter(pk=plan.pk).visible().exists()
    with _at("2026-03-29T23:00:00+00:00"):  # 00:00 BST on the 30th
        assert not Plan.objects.filter(pk=plan.pk).visible().exists()


def test_eighteenth_birthday_of_a_leap_day_child_is_the_first_of_march():
    assert eighteenth_birthday(date(2008, 2, 29)) == date(2026, 3, 1)
    assert eighteenth_birthday(date(2008, 3, 14)) == date(2026, 3, 14)


def test_cpp_and_lac_end_on_the_18th_birthday_and_stay_shown_365_days():
    cpp = PlanFactory(date_of_birth=date(2008, 7, 10), start_date=date(2020, 1, 1))
    lac = PlanFactory(looked_after=True, date_of_birth=date(2008, 7, 10), start_date=date(2021, 1, 1))
    ucpp_mother = PlanFactory(unborn=True, date_of_birth=date(2008, 7, 10), start_date=date(2026, 1, 1))
    assert plans_end_at_eighteen(today=date(2026, 7, 9)) == 0
    assert plans_end_at_eighteen(today=date(2026, 7, 10)) == 2
    for plan in (cpp, lac):
        plan.refresh_from_db()
        assert plan.end_date == date(2026, 7, 10)
        assert plan.changes.get().action == "ended_at_18"
        assert _visible(plan, date(2027, 7, 10))
        assert not _visible(plan, date(2027, 7, 11))
    ucpp_mother.refresh_from_db()
    assert ucpp_mother.end_date is None
    assert plans_end_at_eighteen(today=date(2026, 7, 11)) == 0
    assert AuditEvent.objects.filter(action=AuditAction.PLANS_ENDED_AT_18).get().detail == {"count": 2}


def test_a_leap_day_child_plan_ends_on_the_first_of_march():
    plan = PlanFactory(date_of_birth=date(2008, 2, 29), start_date=date(2020, 1, 1))
    assert plans_end_at_eighteen(today=date(2026, 2, 28)) == 0
    assert plans_end_at_eighteen(today=date(2026, 3, 1)) == 1
    plan.refresh_from_db()
    assert plan.end_date == date(2026, 3, 1)


@override_settings(PLAN_RETENTION_DAYS=30)
def test_plans_are_purged_once_invisible_for_the_retention_period():
    ended = PlanFactory(start_date=date(2024, 1, 1), end_date=date(2025, 1, 1))  # invisible from 2026-01-02
    PlanChange.objects.create(plan=ended, source="form", action="created")
    withdrawn = PlanFactory(withdrawn=True, withdrawn_on=date(2026, 1, 10))
    open_plan = PlanFactory(start_date=date(2020, 1, 1))
    assert plans_purge(today=date(2026, 1, 31)) == 0  # 30 days after 1 Jan: invisible 29 days
    assert plans_purge(today=date(2026, 2, 1)) == 2  # the plan and its history
    assert not Plan.objects.filter(pk=ended.pk).exists()
    assert plans_purge(today=date(2026, 2, 8)) == 0
    assert plans_purge(today=date(2026, 2, 9)) == 1
    assert not Plan.objects.filter(pk=withdrawn.pk).exists()
    assert Plan.objects.filter(pk=open_plan.pk).exists()
    assert AuditEvent.objects.filter(action=AuditAction.PLANS_PURGED).count() == 2


def test_the_database_refuses_two_open_plans_of_one_type_for_one_child_at_one_la(local_authority):
    PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(1), start_date=date(2025, 1, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(1), start_date=date(2025, 2, 1))


def _create(organisation, user, **overrides):
    fields = {
        "nhs_number": nhs_number_for(5),
        "family_name": "Khan",
        "given_names": "Aisha",
        "date_of_birth": date.today() - timedelta(days=3000),  # noqa: DTZ011
        "plan_type": "CPP",
        "start_date": date.today() - timedelta(days=30),  # noqa: DTZ011
        "end_date": None,
        "expected_due_date": None,
        "la_reference": "",
    }
    fields.update(overrides)
    return plan_create(organisation=organisation, by=user, **fields)


def _errors(call) -> dict:
    with pytest.raises(ValidationError) as error:
        call()
    return error.value.message_dict


def test_plan_create_records_history_and_audit(local_authority, role_user):
    user = role_user("plan_manager")
    plan = _create(local_authority, user)
    assert (plan.created_by_name, plan.created_source) == (user.full_name, "form")
    assert not plan.changes.exists()
    event = AuditEvent.objects.get(action=AuditAction.PLAN_CREATED)
    assert (event.nhs_number, event.detail["plan_id"]) == (plan.nhs_number, plan.pk)


def test_plan_create_refuses_what_an_upload_refuses(local_authority, other_local_authority, role_user):
    user = role_user("plan_manager")
    today = date.today()  # noqa: DTZ011
    assert "start_date" in _errors(lambda: _create(local_authority, user, start_date=today + timedelta(1)))
    assert "date_of_birth" in _errors(lambda: _create(local_authority, user, date_of_birth=today + timedelta(1)))
    assert "end_date" in _errors(lambda: _create(local_authority, user, end_date=today - timedelta(31)))
    assert "expected_due_date" in _errors(lambda: _create(local_authority, user, plan_type="UCPP"))
    assert "expected_due_date" in _errors(lambda: _create(local_authority, user, expected_due_date=today))
    assert "start_date" in _errors(lambda: _create(local_authority, user, date_of_birth=today - timedelta(365 * 19)))
    turned_18_last_week = today - timedelta(365 * 18 + 10)
    assert "end_date" in _errors(lambda: _create(local_authority, user, date_of_birth=turned_18_last_week))
    PlanFactory(organisation=other_local_authority, nhs_number=nhs_number_for(5), date_of_birth=today - timedelta(2999))
    assert "different date of birth" in _errors(lambda: _create(local_authority, user))["date_of_birth"][0]
    _create(local_authority, user, date_of_birth=today - timedelta(2999))
    assert "open plan" in _errors(lambda: _create(local_authority, user, date_of_birth=today - timedelta(2999),
                                                  start_date=today - timedelta(5)))["plan_type"][0]  # fmt: skip
    assert Plan.objects.filter(organisation=local_authority).count() == 1


def test_plan_update_end_and_withdraw_keep_a_history(local_authority, role_user):
    user = role_user("plan_manager")
    plan = _create(local_authority, user)
    plan_update(plan=plan, by=user, family_name="Khan-Ali", la_reference="C-1")
    plan_update(plan=plan, by=user, family_name="Khan-Ali", la_reference="C-1")  # no change, no history
    plan_end(plan=plan, end_date=date.today(), by=user)  # noqa: DTZ011
    plan_withdraw(plan=plan, by=user)
    plan_withdraw(plan=plan, by=user)
    plan.refresh_from_db()
    assert plan.withdrawn and plan.withdrawn_on == date.today()  # noqa: DTZ011
    history = list(plan.changes.values_list("action", "changes"))
    assert [a for a, _ in history] == ["withdrawn", "ended", "updated"]
    assert history[2][1] == {"family_name": ["Khan", "Khan-Ali"], "la_reference": ["", "C-1"]}
    assert history[0][1] == {"withdrawn": [False, True]}
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["plan_created", "plan_updated", "plan_ended", "plan_withdrawn"]


def test_la_contacts_update_validates_and_is_audited(local_authority, role_user):
    user = role_user("plan_manager")
    la_contacts_update(organisation=local_authority, office_hours_phone="020 7946 0000",
                       emergency_duty_phone="020 7946 0999", team_mailbox="team@council.example", by=user)  # fmt: skip
    local_authority.refresh_from_db()
    assert local_authority.emergency_duty_phone == "020 7946 0999"
    assert AuditEvent.objects.get(action=AuditAction.LA_CONTACTS_UPDATED).detail == {
        "fields": ["office_hours_phone", "emergency_duty_phone", "team_mailbox"]
    }
    with pytest.raises(ValidationError):
        la_contacts_update(organisation=local_authority, office_hours_phone="", emergency_duty_phone="",
                           team_mailbox="", by=user)  # fmt: skip
