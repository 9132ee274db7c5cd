"""The nightly roll-up of the rules' history (privacy/baselines.py): the scan gives the same
alerts from its summaries as from the audit log, rule by rule, on the same data; it reads the
summaries when they cover its baseline and the audit log when they do not."""

import datetime as dt

import pytest
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.models import Membership, Role
from audit.models import AuditAction
from privacy.baselines import baselines_roll_up
from privacy.models import Alert, AlertRule, AlertScan, BaselineRollUp, ChildSeen, OrganisationBaseline, UserBaseline
from privacy.rules import child_key, local_of
from privacy.scan import children_filter, may_have_seen
from privacy.services import alerts_scan
from tests.factories import PlanFactory, UserFactory, nhs_number_for
from tests.privacy.history import NOW, at, baseline, check, checks

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]

TODAY = NOW.date()


@pytest.fixture(autouse=True)
def _thresholds(settings):
    settings.PRIVACY_VOLUME_MIN = 10
    settings.PRIVACY_NO_PLAN_MIN = 20
    settings.PRIVACY_SILENT_MIN = 5
    settings.PRIVACY_REPEAT_DAYS = 3
    settings.PRIVACY_RECHECK_GAP_HOURS = 1
    settings.PRIVACY_UNUSUAL_MIN_HISTORY = 20


@pytest.fixture
def everything(care_setting, other_care_setting, local_authority, other_local_authority):
    """History in which every rule fires, beside users whose history trips none, with checks on
    the baseline's first day and on the day before it (whole days: both ways must agree)."""
    busy = UserFactory(full_name="Robin Ashdown")
    Membership.objects.create(user=busy, organisation=care_setting, role=Role.CLINICIAN)
    Membership.objects.create(user=busy, organisation=local_authority, role=Role.SOCIAL_WORKER)
    baseline(busy, care_setting, per_day=5)
    checks(busy, care_setting, at(30, 10), 40, first=5000)  # the baseline's first day
    checks(busy, care_setting, at(31, 10), 40, first=5100)  # the day before it
    checks(busy, care_setting, at(0, 9), 25, spacing_minutes=2)  # volume, no_plan
    check(busy, care_setting, at(0, 3), n=1)  # unusual_hours
    check(busy, other_care_setting, at(0, 10), n=2)  # unusual_place
    child = nhs_number_for(77)
    for days_ago in (29, 3):
        check(busy, care_setting, at(days_ago), nhs_number=child, plan_ids=(1,))
    check(busy, care_setting, at(0, 12), nhs_number=child, plan_ids=(1,))  # repeat_child: days
    recheck = nhs_number_for(78)
    check(busy, care_setting, at(1, 8), nhs_number=recheck)
    check(busy, care_setting, at(0, 11), nhs_number=recheck)  # repeat_child: after no plan
    relative = PlanFactory(family_name="Ashdown")
    check(busy, care_setting, at(0, 12, 5), nhs_number=relative.nhs_number, plan_ids=(relative.pk,))
    own = PlanFactory(organisation=local_authority, family_name="Quill")
    check(busy, care_setting, at(0, 12, 10), nhs_number=own.nhs_number, plan_ids=(own.pk,))

    lead = UserFactory(full_name="Ira Penn")
    silent = {"action": AuditAction.CHILD_VIEWED_SILENTLY, "role": "safeguarding_lead"}
    baseline(lead, care_setting, per_day=1, **silent)
    checks(lead, care_setting, at(0, 9), 6, first=6000, **silent)

    quiet = UserFactory(full_name="Kit Marlowe")
    baseline(quiet, care_setting, per_day=3)
    checks(quiet, care_setting, at(0, 10), 4, first=7000)
    elsewhere = PlanFactory(organisation=other_local_authority, family_name="Marsh")
    check(quiet, care_setting, at(0, 10, 30), nhs_number=elsewhere.nhs_number, plan_ids=(elsewhere.pk,))
    check(quiet, care_setting, at(4), nhs_number=elsewhere.nhs_number, plan_ids=(elsewhere.pk,))
    return busy, lead, quiet


def _alerts() -> set[tuple]:
    return {
        (a.rule, a.user_id, a.organisation_id, a.dedupe_key, a.explanation, tuple(e["event_id"] for e in a.evidence))
        for a in Alert.objects.all()
    }


def _scan_both_ways() -> tuple[set[tuple], set[tuple]]:
    """The alerts of one scan at NOW from the audit log, then of the same scan from the
    summaries (rolled up to the day before)."""
    alerts_scan(now=NOW)
    from_audit_log = _alerts()
    Alert.objects.all().delete()
    AlertScan.objects.all().delete()
    baselines_roll_up(today=TODAY)
    alerts_scan(now=NOW)
    return from_audit_log, _alerts()


@pytest.mark.parametrize("rule", list(AlertRule))
def test_each_rule_finds_the_same_from_the_summaries_as_from_the_audit_log(everything, rule):
    from_audit_log, from_summaries = _scan_both_ways()
    raw = {a for a in from_audit_log if a[0] == rule}
    assert raw, f"the data must trip {rule}"
    assert {a for a in from_summaries if a[0] == rule} == raw


def test_users_whose_history_trips_nothing_have_no_alerts_either_way(everything):
    _, _, quiet = everything
    from_audit_log, from_summaries = _scan_both_ways()
    assert from_audit_log == from_summaries
    assert not [a for a in from_summaries if a[1] == quiet.pk]


def test_the_scan_reads_the_summaries_when_they_cover_its_baseline(clinician_with_baseline):
    user, care_setting = clinician_with_baseline
    checks(user, care_setting, at(0, 9), 15)
    baselines_roll_up(today=TODAY)
    # Were the audit log read, 15 would be 3 × the usual 5: the summary says the usual is 10.
    UserBaseline.objects.filter(user=user).update(checks=10)
    alerts_scan(now=NOW)
    assert not Alert.objects.filter(rule=AlertRule.VOLUME)


def test_the_scan_reads_the_audit_log_when_the_roll_up_is_days_behind(clinician_with_baseline):
    user, care_setting = clinician_with_baseline
    checks(user, care_setting, at(0, 9), 15)
    baselines_roll_up(today=TODAY - dt.timedelta(days=5))
    UserBaseline.objects.filter(user=user).update(checks=10)
    alerts_scan(now=NOW)
    assert Alert.objects.filter(rule=AlertRule.VOLUME).count() == 1


@pytest.fixture
def clinician_with_baseline(care_setting):
    user = UserFactory(full_name="Robin Ashdown")
    baseline(user, care_setting, per_day=5)
    return user, care_setting


def test_the_roll_up_summarises_each_day_once_and_keeps_what_the_scans_need(clinician_with_baseline, settings):
    user, care_setting = clinician_with_baseline
    check(user, care_setting, at(1, 9), nhs_number=nhs_number_for(5))
    assert baselines_roll_up(today=TODAY) == TODAY - dt.timedelta(days=1)
    assert baselines_roll_up(today=TODAY) is None  # a second run the same day does nothing
    assert BaselineRollUp.objects.get().rolled_until == TODAY - dt.timedelta(days=1)
    assert sorted(set(UserBaseline.objects.values_list("last_day", flat=True))) == [
        TODAY - dt.timedelta(days=back) for back in (3, 2, 1)
    ]
    summary = UserBaseline.objects.get(user=user, last_day=TODAY - dt.timedelta(days=1))
    # Ten days of 5 and one of 1: the median of 11 days is 5.
    assert (summary.checks, summary.no_plan, summary.silent) == (5.0, 5.0, 0.0)
    assert (summary.checks_total, summary.hours) == (51, 1 << 9 | 1 << 10)
    assert (summary.places_total, summary.places) == (51, str(care_setting.pk))
    assert OrganisationBaseline.objects.get(organisation=care_setting, last_day=summary.last_day).usual == 5.0
    # The children by keyed hash, never the NHS number.
    seen = ChildSeen.objects.get(day=TODAY - dt.timedelta(days=1))
    assert seen.child_key == child_key(nhs_number_for(5)) and seen.first_no_plan_epoch == at(1, 9).timestamp()

    # The next night adds that day's children only, and the baselines ending on the last days.
    check(user, care_setting, at(0, 9), nhs_number=nhs_number_for(6), plan_ids=(1,))
    kept = ChildSeen.objects.count()
    assert baselines_roll_up(today=TODAY + dt.timedelta(days=1)) == TODAY
    assert ChildSeen.objects.count() == kept + 1
    assert ChildSeen.objects.get(day=TODAY).first_no_plan_epoch is None
    assert min(UserBaseline.objects.values_list("last_day", flat=True)) == TODAY - dt.timedelta(days=2)


def test_the_roll_up_drops_the_children_seen_before_the_oldest_baseline_it_keeps(care_setting, settings):
    settings.PRIVACY_BASELINE_DAYS = 5
    user = UserFactory()
    for days_ago in (1, 7, 8):
        check(user, care_setting, at(days_ago), nhs_number=nhs_number_for(days_ago))
    baselines_roll_up(today=TODAY)
    # The oldest baseline kept ends three days ago and starts five days before that.
    assert sorted(ChildSeen.objects.values_list("day", flat=True)) == [at(7).date(), at(1).date()]


@pytest.mark.parametrize("children", [1, 40, 2000])
def test_a_childrens_filter_holds_every_child_it_was_made_of_and_few_others(children):
    seen = {child_key(nhs_number_for(n)) for n in range(children)}
    others = [child_key(nhs_number_for(n)) for n in range(children, children + 3000)]
    filtered = children_filter(seen)
    assert all(may_have_seen(filtered, key) for key in seen)
    # 12 bits and 4 per child: about 0.6 % of the children not seen pass it.
    assert sum(may_have_seen(filtered, key) for key in others) < 0.02 * len(others)


def test_the_roll_up_makes_each_users_filter_of_the_children_they_saw(clinician_with_baseline):
    user, care_setting = clinician_with_baseline
    baselines_roll_up(today=TODAY)
    filtered = UserBaseline.objects.get(user=user, last_day=TODAY - dt.timedelta(days=1)).children
    assert filtered, "the roll-up made the user's filter"
    seen = set(ChildSeen.objects.filter(user=user).values_list("child_key", flat=True))
    assert seen and all(may_have_seen(filtered, key) for key in seen)


def test_a_child_key_is_the_salted_hmac_of_the_number(settings):
    number = nhs_number_for(3)
    assert child_key(number) == salted_hmac("privacy.alert.child", number).hexdigest()[:24]
    settings.SECRET_KEY = "another-secret-key-for-the-test-only-0123456789"  # pragma: allowlist secret
    assert child_key(number) == salted_hmac("privacy.alert.child", number).hexdigest()[:24]


def test_a_recheck_after_a_rolled_up_check_that_found_no_plan_fires(clinician_with_baseline):
    user, care_setting = clinician_with_baseline
    child = nhs_number_for(90)
    check(user, care_setting, at(1, 9), nhs_number=child)
    baselines_roll_up(today=TODAY)
    check(user, care_setting, at(0, 11), nhs_number=child)
    alerts_scan(now=NOW)
    [alert] = Alert.objects.filter(rule=AlertRule.REPEAT_CHILD)
    assert "26 hours after a check that found no plan" in alert.explanation and len(alert.evidence) == 2


def test_a_later_scan_reads_the_day_so_far_that_the_summaries_do_not_hold(clinician_with_baseline):
    # The first check, after midnight, is read by one scan; the recheck by the next, which
    # finds the first among the user's checks of the day before its own new ones.
    user, care_setting = clinician_with_baseline
    child = nhs_number_for(91)
    baselines_roll_up(today=TODAY)
    check(user, care_setting, timezone.make_aware(dt.datetime.combine(TODAY, dt.time(0, 45))), nhs_number=child)
    alerts_scan(now=NOW - dt.timedelta(hours=4))
    assert not Alert.objects.filter(rule=AlertRule.REPEAT_CHILD)
    check(user, care_setting, at(0, 11), nhs_number=child)
    alerts_scan(now=NOW)
    [alert] = Alert.objects.filter(rule=AlertRule.REPEAT_CHILD)
    assert "10 hours after a check that found no plan" in alert.explanation and len(alert.evidence) == 2


@pytest.mark.parametrize("day", [dt.date(2026, 3, 29), dt.date(2026, 10, 25), dt.date(2026, 11, 18)])
def test_local_time_is_timezones_across_a_clock_change(day):
    # In UTC, as the database gives them: arithmetic on London times would make some that do
    # not exist.
    start = dt.datetime.combine(day, dt.time(0, 0), tzinfo=dt.UTC) - dt.timedelta(hours=2)
    for minutes in range(0, 6 * 60, 7):
        moment = start + dt.timedelta(minutes=minutes)
        assert local_of(moment) == timezone.localtime(moment).replace(tzinfo=None)


@pytest.mark.parametrize(("after", "fires"), [(dt.timedelta(milliseconds=-300), False), (dt.timedelta(0), True)])
def test_a_recheck_just_under_the_gap_after_a_rolled_up_check_does_not_fire(clinician_with_baseline, after, fires):
    # The summaries round the first check down to the second, so the scan reads this pair's
    # checks; the rule, on the checks themselves, decides.
    user, care_setting = clinician_with_baseline
    child = nhs_number_for(92)
    first = at(1, 23, 30) + dt.timedelta(milliseconds=500)
    check(user, care_setting, first, nhs_number=child)
    baselines_roll_up(today=TODAY)
    check(user, care_setting, first + dt.timedelta(hours=1) + after, nhs_number=child)
    alerts_scan(now=timezone.make_aware(dt.datetime.combine(TODAY, dt.time(1, 5))))
    assert Alert.objects.filter(rule=AlertRule.REPEAT_CHILD).exists() is fires
