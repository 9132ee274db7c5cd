"""Each access-pattern rule, with audit history that trips it and history that must not (issue 29;
docs/privacy.md "Rules"). The history is written to the real audit log and read by the scan,
every test twice: from the audit log, and from the nightly roll-up's summaries of it
(privacy/baselines.py)."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Membership, Role
from audit.models import AuditAction, AuditEvent
from privacy import services
from privacy.baselines import baselines_roll_up
from privacy.models import Alert, AlertRule
from tests.factories import PlanFactory, UserFactory, nhs_number_for
from tests.privacy.history import NOW, at, baseline, check, checks

# On SQLite too: there the scan reads its ids and pairs through the ORM instead of arrays.
pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


@pytest.fixture(autouse=True)
def _thresholds(settings):
    settings.PRIVACY_VOLUME_MIN = 10
    settings.PRIVACY_VOLUME_FACTOR = 3.0
    settings.PRIVACY_NO_PLAN_MIN = 20
    settings.PRIVACY_SILENT_MIN = 5
    settings.PRIVACY_REPEAT_DAYS = 3
    settings.PRIVACY_RECHECK_GAP_HOURS = 1
    settings.PRIVACY_UNUSUAL_MIN_HISTORY = 20


_summaries = {"on": False}


@pytest.fixture(autouse=True, params=["audit_log", "summaries"])
def history_from(request):
    _summaries["on"] = request.param == "summaries"
    yield request.param
    _summaries["on"] = False


def alerts_scan(*, now):
    """The scan, after the roll-up of the days before `now` when the history is the summaries'
    (once a day, as beat runs it: a later scan of the same day finds them done)."""
    if _summaries["on"]:
        baselines_roll_up(today=timezone.localdate(now))
    return services.alerts_scan(now=now)


@pytest.fixture
def clinician(care_setting):
    user = UserFactory(full_name="Robin Ashdown")
    Membership.objects.create(user=user, organisation=care_setting, role=Role.CLINICIAN)
    return user


def _alerts(rule):
    return list(Alert.objects.filter(rule=rule))


# Volume: far above their own and their organisation's usual number in a shift.


def test_volume_fires_at_three_times_the_usual_number(clinician, care_setting):
    baseline(clinician, care_setting, per_day=5)
    checks(clinician, care_setting, at(0, 9), 15)
    alerts_scan(now=NOW)
    [alert] = _alerts(AlertRule.VOLUME)
    assert alert.user == clinician and alert.organisation == care_setting
    assert len(alert.evidence) == 15
    assert "15 checks in 12 hours" in alert.explanation and "threshold is 15" in alert.explanation


def test_volume_does_not_fire_below_three_times_the_usual_number(clinician, care_setting):
    baseline(clinician, care_setting, per_day=5)
    checks(clinician, care_setting, at(0, 9), 14)
    alerts_scan(now=NOW)
    assert not _alerts(AlertRule.VOLUME)


def test_volume_does_not_fire_for_a_busy_organisations_usual_day(clinician, care_setting):
    # New to the service, but the organisation's users usually make 8 a day: 20 is not 3 × 8.
    colleague = UserFactory(full_name="Kit Marlowe")
    baseline(colleague, care_setting, per_day=8)
    checks(clinician, care_setting, at(0, 9), 20)
    alerts_scan(now=NOW)
    assert not _alerts(AlertRule.VOLUME)


def test_volume_does_not_fire_below_the_minimum(clinician, care_setting):
    baseline(clinician, care_setting, per_day=1)
    checks(clinician, care_setting, at(0, 9), 9)
    alerts_scan(now=NOW)
    assert not _alerts(AlertRule.VOLUME)


# The same child again.


def test_repeat_child_fires_on_three_different_days(clinician, care_setting):
    child = nhs_number_for(77)
    for days_ago in (6, 3):
        check(clinician, care_setting, at(days_ago), nhs_number=child, plan_ids=(1,))
    check(clinician, care_setting, at(0, 9), nhs_number=child, plan_ids=(1,))
    alerts_scan(now=NOW)
    [alert] = _alerts(AlertRule.REPEAT_CHILD)
    assert len(alert.evidence) == 3 and "3 different days" in alert.explanation
    assert child not in alert.dedupe_key and child not in alert.explanation


def test_repeat_child_does_not_fire_on_two_days(clinician, care_setting):
    child = nhs_number_for(77)
    check(clinician, care_setting, at(3), nhs_number=child, plan_ids=(1,))
    check(clinician, care_setting, at(0, 9), nhs_number=child, plan_ids=(1,))
    alerts_scan(now=NOW)
    assert not _alerts(AlertRule.REPEAT_CHILD)


def test_repeat_child_fires_on_a_check_hours_after_one_that_found_no_plan(clinician, care_setting):
    child = nhs_number_for(78)
    check(clinician, care_setting, at(0, 8), nhs_number=child)
    check(clinician, care_setting, at(0, 11), nhs_number=child)
    alerts_scan(now=NOW)
    [alert] = _alerts(AlertRule.REPEAT_CHILD)
    assert "3 hours after a check that found no plan" in alert.explanation


def test_repeat_child_does_not_fire_on_a_correction_minutes_later(clinician, care_setting):
    child = nhs_number_for(78)
    check(clinician, care_setting, at(0, 8), nhs_number=child)
    check(clinician, care_setting, at(0, 8, 10), nhs_number=child)
    alerts_scan(now=NOW)
    assert not _alerts(AlertRule.REPEAT_CHILD)


# Looking for who is on a plan.


def test_no_plan_fires_on_many_checks_that_found_no_plan(clinician, care_setting):
    checks(clinician, care_setting, at(0, 9), 20)
    alerts_scan(now=NOW)
    [alert] = _alerts(AlertRule.NO_PLAN)
    assert "20 checks that found no plan" in alert.explanation


def test_no_plan_does_not_count_checks_that_found_a_plan(clinician, care_setting):
    checks(clinician, care_setting, at(0, 9), 10)
    checks(clinician, care_setting, at(0, 11), 15, plan_ids=(1,), first=8500)
    alerts_scan(now=NOW)
    assert not _alerts(AlertRule.NO_PLAN)


# Unusual hours and places.


def test_unusual_hours_fires_on_a_check_at_three_in_the_morning(clinician, care_setting):
    baseline(clinician, care_setting, per_day=2, hour=10)
    check(clinician, care_setting, at(0, 3))
    alerts_scan(now=NOW)
    [alert] = _alerts(AlertRule.UNUSUAL_HOURS)
    assert "03:00" in alert.explanation and len(alert.evidence) == 1


def test_unusual_hours_does_not_fire_within_an_hour_of_the_usual(clinician, care_setting):
    baseline(clinician, care_setting, per_day=2, hour=10)
    check(clinician, care_setting, at(0, 11, 30))
    alerts_scan(now=NOW)
    assert not _alerts(AlertRule.UNUSUAL_HOURS)


def test_unusual_hours_needs_enough_history_to_judge(clinician, care_setting):
    baseline(clinician, care_setting, per_day=1, days=5, hour=10)
    check(clinician, care_setting, at(0, 3))
    alerts_scan(now=NOW)
    assert not _alerts(AlertRule.UNUSUAL_HOURS)


def test_unusual_place_fires_at_a_care_setting_the_user_does_not_work_at(clinician, care_setting, other_care_setting):
    baseline(clinician, care_setting, per_day=2)
    check(clinician, other_care_setting, at(0, 10))
    alerts_scan(now=NOW)
    [alert] = _alerts(AlertRule.UNUSUAL_PLACE)
    assert alert.organisation == other_care_setting


def test_unusual_place_does_not_fire_where_the_user_usually_works(clinician, care_setting):
    baseline(clinician, care_setting, per_day=2)
    check(clinician, care_setting, at(0, 10))
    alerts_scan(now=NOW)
    assert not _alerts(AlertRule.UNUSUAL_PLACE)


# Possible relatives and the user's own local authority.


def test_possible_relative_fires_on_the_users_own_family_name(clinician, care_setting):
    plan = PlanFactory(family_name="ASHDOWN")
    check(clinician, care_setting, at(0, 10), nhs_number=plan.nhs_number, plan_ids=(plan.pk,))
    alerts_scan(now=NOW)
    [alert] = _alerts(AlertRule.POSSIBLE_RELATIVE)
    assert alert.evidence[0]["plan_found"] is True


def test_possible_relative_does_not_fire_on_another_family_name(clinician, care_setting):
    plan = PlanFactory(family_name="Ashdown-Smith")
    check(clinician, care_setting, at(0, 10), nhs_number=plan.nhs_number, plan_ids=(plan.pk,))
    alerts_scan(now=NOW)
    assert not _alerts(AlertRule.POSSIBLE_RELATIVE)


def test_own_local_authority_fires_when_the_user_is_also_a_member_of_the_plans_la(
    clinician, care_setting, local_authority
):
    Membership.objects.create(user=clinician, organisation=local_authority, role=Role.SOCIAL_WORKER)
    plan = PlanFactory(organisation=local_authority, family_name="Quill")
    check(clinician, care_setting, at(0, 10), nhs_number=plan.nhs_number, plan_ids=(plan.pk,))
    alerts_scan(now=NOW)
    [alert] = _alerts(AlertRule.OWN_LOCAL_AUTHORITY)
    assert alert.organisation == care_setting


def test_own_local_authority_does_not_fire_for_another_las_plan_or_the_las_own_work(
    clinician, care_setting, local_authority, other_local_authority
):
    Membership.objects.create(user=clinician, organisation=local_authority, role=Role.SOCIAL_WORKER)
    elsewhere = PlanFactory(organisation=other_local_authority, family_name="Quill")
    check(clinician, care_setting, at(0, 10), nhs_number=elsewhere.nhs_number, plan_ids=(elsewhere.pk,))
    own = PlanFactory(organisation=local_authority, family_name="Quill")
    check(
        clinician, local_authority, at(0, 11), nhs_number=own.nhs_number, plan_ids=(own.pk,),
        action=AuditAction.CHILD_VIEWED_BY_LA, role="social_worker",
    )  # fmt: skip
    alerts_scan(now=NOW)
    assert not _alerts(AlertRule.OWN_LOCAL_AUTHORITY)


# Silent reads by a safeguarding lead.


def test_silent_reads_fire_above_a_leads_usual_rate(care_setting):
    lead = UserFactory(full_name="Ira Penn")
    baseline(lead, care_setting, per_day=1, action=AuditAction.CHILD_VIEWED_SILENTLY, role="safeguarding_lead")
    checks(lead, care_setting, at(0, 9), 5, action=AuditAction.CHILD_VIEWED_SILENTLY, role="safeguarding_lead")
    alerts_scan(now=NOW)
    [alert] = _alerts(AlertRule.SILENT_READS)
    assert "5 silent reads" in alert.explanation


def test_silent_reads_do_not_fire_at_a_leads_usual_rate(care_setting):
    lead = UserFactory(full_name="Ira Penn")
    baseline(lead, care_setting, per_day=3, action=AuditAction.CHILD_VIEWED_SILENTLY, role="safeguarding_lead")
    checks(lead, care_setting, at(0, 9), 8, action=AuditAction.CHILD_VIEWED_SILENTLY, role="safeguarding_lead")
    alerts_scan(now=NOW)
    assert not _alerts(AlertRule.SILENT_READS)


# The scan itself.


def test_checks_without_a_repeated_form_flag_count_and_double_submissions_do_not(clinician, care_setting):
    # The LA's views and the API's checks have no repeated_form key in their detail.
    checks(clinician, care_setting, at(0, 9), 10)
    for n in range(10):
        AuditEvent.objects.create(
            occurred_at=at(0, 11, n), user=clinician, organisation=care_setting, roles="clinician",
            action=AuditAction.CHILD_CHECKED, nhs_number=nhs_number_for(9100 + n), detail={"plan_ids": []},
        )  # fmt: skip
    AuditEvent.objects.create(
        occurred_at=at(0, 11, 30), user=clinician, organisation=care_setting, roles="clinician",
        action=AuditAction.CHILD_CHECKED, nhs_number=nhs_number_for(9100),
        detail={"plan_ids": [], "repeated_form": True},
    )  # fmt: skip
    alerts_scan(now=NOW)
    [alert] = _alerts(AlertRule.NO_PLAN)
    assert len(alert.evidence) == 20


def test_a_rule_left_out_of_the_settings_does_not_run(settings, clinician, care_setting):
    settings.PRIVACY_RULES = ["volume"]
    checks(clinician, care_setting, at(0, 9), 20)
    alerts_scan(now=NOW)
    assert not _alerts(AlertRule.NO_PLAN)


def test_the_scan_reads_only_new_events_and_adds_later_evidence_to_the_open_alert(clinician, care_setting):
    checks(clinician, care_setting, at(0, 9), 20)
    assert alerts_scan(now=NOW) >= 1
    [alert] = _alerts(AlertRule.NO_PLAN)
    assert len(alert.evidence) == 20
    # Nothing new: nothing raised, nothing changed.
    assert alerts_scan(now=NOW + dt.timedelta(minutes=5)) == 0
    check(clinician, care_setting, NOW + dt.timedelta(minutes=6), n=1)
    assert alerts_scan(now=NOW + dt.timedelta(minutes=10)) == 0
    [alert] = _alerts(AlertRule.NO_PLAN)
    assert len(alert.evidence) == 21


def test_the_scan_leaves_checks_within_the_lag_to_the_next_scan(clinician, care_setting):
    checks(clinician, care_setting, NOW - dt.timedelta(seconds=30), 20, spacing_minutes=0)
    alerts_scan(now=NOW)
    assert not _alerts(AlertRule.NO_PLAN)
    alerts_scan(now=NOW + dt.timedelta(minutes=5))
    assert len(_alerts(AlertRule.NO_PLAN)) == 1


# The counted statements are PostgreSQL's (arrays); SQLite's ORM lookups are more.
@pytest.mark.postgresql
@pytest.mark.parametrize("users", [1, 6])
def test_the_scan_reads_a_fixed_number_of_queries_however_many_users(
    django_assert_num_queries, care_setting, users, history_from
):
    for n in range(users):
        user = UserFactory(full_name=f"Checker Number{n}")
        baseline(user, care_setting, per_day=1, days=3)
        checks(user, care_setting, at(0, 9), 3, first=8000 + 10 * n)
    if history_from == "summaries":
        baselines_roll_up(today=NOW.date())
    # The scan's row (read, insert, update), the new checks, the roll-up's row, three reads of
    # history (none for the organisations' usual: nobody reached the volume rule's minimum;
    # no names or memberships: no check found a plan), savepoints. From the audit log: the
    # shift, the baseline grouped, the children's checks; from the summaries: the users'
    # checks since midnight before the new ones, their usual, the children seen (nobody's
    # checks of a child to read).
    with django_assert_num_queries(12):
        services.alerts_scan(now=NOW)


@pytest.mark.parametrize("users", [1, 6])
def test_raising_alerts_takes_a_fixed_number_of_queries_however_many(django_assert_num_queries, care_setting, users):
    for n in range(users):
        user = UserFactory(full_name=f"Checker Number{n}")
        checks(user, care_setting, at(0, 9), 20, first=8000 + 100 * n)
    # As above, with the organisation's usual (the users reached the volume rule's minimum),
    # then the open alerts with the findings' keys, the new alerts, their audit events.
    with django_assert_num_queries(16):
        assert services.alerts_scan(now=NOW) == 2 * users  # volume and no_plan each
