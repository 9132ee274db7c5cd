"""The national figures kept, not recomputed (issue 28): each organisation's go-live state kept by
beat and by an applied upload, read by the progress pages and the national admin's home, equal to
the live rule on the same data; and every national page reads as many rows, in as many queries,
at 10 organisations as at 200."""

import datetime as dt
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from accounts.models import Organisation, OrganisationKind, Region, Role, SettingType
from audit.models import AuditAction, AuditEvent
from core.dates import london_moment
from plans.models import PlanUpload, UploadStatus
from reports import progress
from reports.models import DayFigures, GoLiveCount, GoLiveRefresh, GoLiveState, RolledUpDay
from reports.progress import go_live_page, go_live_refresh, go_live_totals, progress_counts
from reports.tasks import go_live_refresh as go_live_refresh_task
from tests.factories import OrganisationFactory, user_with_role

# Also on SQLite, as the demo runs them (`make test`, cpis/settings/test_sqlite.py).
pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


def _upload(la, accepted: int, days_ago: int = 0) -> PlanUpload:
    return PlanUpload.objects.create(
        organisation=la, filename="a.csv", status=UploadStatus.APPLIED,
        applied_at=timezone.now() - timedelta(days=days_ago), counts={"rows": 100, "accepted": accepted},
    )  # fmt: skip


def _country():
    """Organisations in every go-live state: live, a low upload, an old upload, untrained,
    without contact details; care settings with and without a trained clinician and checks."""
    made = []
    for i, region in enumerate([Region.LONDON, Region.NORTH_WEST, "", Region.LONDON, Region.SOUTH_WEST]):
        la = OrganisationFactory(local_authority=True, region=region)
        user_with_role(Role.SOCIAL_WORKER, la, trained=i != 3)
        _upload(la, accepted=[96, 90, 99, 97, 100][i], days_ago=[1, 2, 40, 3, 5][i])
        if i == 4:
            Organisation.objects.filter(pk=la.pk).update(team_mailbox="")
        made.append(la)
    for i, setting_type in enumerate([SettingType.ED, SettingType.ED, SettingType.MATERNITY, SettingType.OOH]):
        setting = OrganisationFactory(setting_type=setting_type, region=[Region.LONDON, "", Region.LONDON, ""][i])
        if i != 1:
            user_with_role(Role.CLINICIAN, setting)
        if i != 2:
            AuditEvent.objects.create(action=AuditAction.CHILD_CHECKED, organisation=setting, detail={"plan_ids": []})
        made.append(setting)
    OrganisationFactory(local_authority=True, is_active=False)  # never counted
    return made


def _states(page) -> list[tuple[int, bool, list[str]]]:
    return [(s.organisation.pk, s.live, [step.text for step in s.left]) for s in page.object_list]


def _everything():
    organisations = Organisation.objects.exclude(kind=OrganisationKind.NATIONAL).filter(is_active=True)
    return {
        "counts": progress_counts(),
        "totals": go_live_totals(),
        "pages": {
            state: _states(go_live_page(organisations.order_by("kind", "name", "pk"), state, 1))
            for state in ("", "live", "not_live")
        },
    }


def test_the_kept_states_answer_as_the_live_rule_does_on_the_same_data(national):
    _country()
    live = _everything()
    assert live["totals"] == (3, 6)  # the live rule itself: LA 0 and the two settings with everything

    assert go_live_refresh() == 9
    assert GoLiveState.objects.count() == 9 and GoLiveRefresh.objects.get().refreshed_at
    assert progress._kept_states_usable()
    assert sum(GoLiveCount.objects.values_list("organisations", flat=True)) == 9
    assert _everything() == live


def test_kept_states_are_not_trusted_once_beat_stops_refreshing_them(national):
    la, *_ = _country()
    go_live_refresh()
    assert go_live_totals() == (3, 6)
    PlanUpload.objects.filter(organisation=la).update(applied_at=timezone.now() - timedelta(days=31))
    assert go_live_totals() == (3, 6)  # kept: until the next refresh

    GoLiveRefresh.objects.update(
        refreshed_at=timezone.now() - timedelta(seconds=3 * settings.GO_LIVE_REFRESH_INTERVAL + 1)
    )
    assert go_live_totals() == (2, 7)  # worked out live
    go_live_refresh_task.apply().get()
    assert go_live_totals() == (2, 7)
    assert GoLiveState.objects.get(organisation=la).live is False


def test_a_new_organisation_is_kept_once_it_commits_and_worked_out_live_until_then(
    national, django_capture_on_commit_callbacks
):
    _country()
    go_live_refresh()
    newcomer = OrganisationFactory(local_authority=True, name="Aardvark Council")
    user_with_role(Role.SOCIAL_WORKER, newcomer)
    _upload(newcomer, accepted=99)
    listed = go_live_page(Organisation.objects.filter(pk=newcomer.pk), "", 1).object_list
    assert [(s.organisation, s.live) for s in listed] == [(newcomer, True)]  # not kept yet: worked out live

    with django_capture_on_commit_callbacks(execute=True):
        Organisation.objects.get(pk=newcomer.pk).save()
    assert GoLiveState.objects.get(organisation=newcomer).live is True
    assert go_live_totals() == (4, 6)
    with django_capture_on_commit_callbacks(execute=True):
        Organisation.objects.filter(pk=newcomer.pk).update(is_active=False)
        Organisation.objects.get(pk=newcomer.pk).save()
    assert go_live_totals() == (3, 6)


def test_refreshing_one_organisation_does_not_make_the_others_fresh(national):
    la, *_ = _country()
    go_live_refresh([la.pk])
    assert not GoLiveRefresh.objects.exists()
    assert go_live_totals() == (3, 6)  # worked out live, all of them


def test_an_applied_upload_refreshes_its_local_authority_once_it_commits(national, django_capture_on_commit_callbacks):
    la = OrganisationFactory(local_authority=True)
    user_with_role(Role.SOCIAL_WORKER, la)
    go_live_refresh()
    assert GoLiveState.objects.get(organisation=la).live is False
    with django_capture_on_commit_callbacks(execute=True):
        PlanUpload.objects.create(organisation=la, filename="a.csv", status=UploadStatus.QUEUED)
    assert GoLiveState.objects.get(organisation=la).live is False
    with django_capture_on_commit_callbacks(execute=True):
        _upload(la, accepted=100)
    state = GoLiveState.objects.get(organisation=la)
    assert state.live is True and state.steps == [True, True, True]


def test_a_checklist_kept_under_other_steps_is_worked_out_live(national):
    la = OrganisationFactory(local_authority=True)
    go_live_refresh()
    GoLiveState.objects.filter(organisation=la).update(steps=[True, True])  # as an older release kept it
    page = go_live_page(Organisation.objects.filter(pk=la.pk), "", 1)
    assert [step.done for step in page.object_list[0].steps] == [True, False, False]


def test_the_refresh_is_idempotent(national):
    _country()
    go_live_refresh()
    first = list(GoLiveState.objects.order_by("pk").values())
    go_live_refresh()
    assert list(GoLiveState.objects.order_by("pk").values()) == first


def test_the_national_totals_of_a_care_setting_equal_its_days_added_up(national):
    from reports.metrics import care_setting_reports
    from reports.rollup import days_roll_up

    settings_ = [OrganisationFactory(), OrganisationFactory()]
    today = timezone.localdate()
    for days_ago, setting, plan_ids in [(1, 0, [1]), (1, 1, []), (3, 0, []), (5, 1, [2]), (0, 0, [3]), (9, 1, [])]:
        with time_machine.travel(london_moment(today - timedelta(days=days_ago), dt.time(12)), tick=False):
            AuditEvent.objects.create(action=AuditAction.CHILD_CHECKED, organisation=settings_[setting],
                                      detail={"plan_ids": plan_ids})  # fmt: skip
    days_roll_up(today - timedelta(days=9), today - timedelta(days=4))  # days 1 to 3 and today live
    figures = {}
    for start in (today - timedelta(days=20), today - timedelta(days=4), today):
        by_day = [(r.checks, r.alerts) for r in care_setting_reports(settings_, start, today)]
        totals = care_setting_reports(settings_, start, today, per_day=False)
        assert [(r.checks, r.alerts) for r in totals] == by_day and all(r.days == [] for r in totals)
        figures[start] = by_day
    assert list(figures.values()) == [[(3, 2), (3, 1)], [(3, 2), (1, 0)], [(1, 1), (0, 0)]]


# Query counts whatever the number of organisations: every national page with kept states fresh,
# its past days rolled up, as beat keeps them.


def _organisations(count: int) -> None:
    """`count` active organisations, half local authorities, each with a year of rolled-up days."""
    existing = Organisation.objects.count()
    Organisation.objects.bulk_create(
        [
            Organisation(
                ods_code=f"Q{existing + i:05d}", name=f"Organisation {existing + i:05d}",
                kind=OrganisationKind.LOCAL_AUTHORITY if i % 2 else OrganisationKind.CARE_SETTING,
                setting_type="" if i % 2 else SettingType.ED, region=Region.LONDON if i % 3 else "",
                office_hours_phone="0113 496 0001", emergency_duty_phone="0113 496 0999", team_mailbox="t@la.example",
            )
            for i in range(count)
        ]
    )  # fmt: skip
    today = timezone.localdate()
    days = [today - timedelta(days=n) for n in range(1, 366, 30)]
    RolledUpDay.objects.bulk_create([RolledUpDay(day=day) for day in days], ignore_conflicts=True)
    DayFigures.objects.bulk_create(
        [
            DayFigures(organisation=o, day=day, checks=3, alerts=1, notifications=2, acknowledged={f"{day}": [5, 15]})
            for o in Organisation.objects.exclude(kind=OrganisationKind.NATIONAL)
            for day in days
        ],
        ignore_conflicts=True,
    )
    go_live_refresh()


PAGES = {
    "report: national": "/reports/",
    "report: national, a year": "/reports/?date_from_day={a_year_ago.day}&date_from_month={a_year_ago.month}"
    "&date_from_year={a_year_ago.year}",
    "progress: public": "/reports/implementation-progress/",
    "progress: national list": "/reports/implementation-progress/organisations/",
    "progress: national list, live": "/reports/implementation-progress/organisations/?state=live",
    "home: national admin": "/",
}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_a_national_page_runs_as_many_queries_at_200_organisations_as_at_10(
    name, client_for, national, django_assert_max_num_queries
):
    path = PAGES[name].format(a_year_ago=timezone.localdate() - timedelta(days=365))
    client = client_for(user_with_role(Role.NATIONAL_ADMIN, national))
    _organisations(10)
    client.get(path)  # the first request of a process reads what later ones have cached
    with django_assert_max_num_queries(100) as at_ten:
        assert client.get(path).status_code == 200
    _organisations(190)
    assert Organisation.objects.count() > 200
    with django_assert_max_num_queries(len(at_ten.captured_queries)):
        response = client.get(path)
    assert response.status_code == 200
    page = response.content.decode()
    # A page shows 50 organisations of each kind whatever their number.
    for heading in ("Organisation", "Local authority", "Care setting"):
        assert page.count(f'aria-hidden="true">{heading} </span>') <= 50
    if name != "progress: national list, live" and ("list" in name or "report" in name):  # none is live
        assert 'class="nhsuk-pagination' in page


def test_the_national_tables_page_by_name_keeping_the_range_and_the_other_page(client_for, national):
    client = client_for(user_with_role(Role.NATIONAL_ADMIN, national))
    _organisations(120)  # 60 local authorities, 60 care settings
    range_ = "date_from_day=1&date_from_month=11&date_from_year=2026"
    page = client.get(f"/reports/?{range_}&la_page=2").content.decode()
    assert "51 to 60 of 60 local authorities" in page and "1 to 50 of 60 care settings" in page
    escaped = range_.replace("&", "&amp;")
    assert f"?{escaped}&amp;la_page=2&amp;setting_page=2" in page  # the care settings' next page
    assert f"?{escaped}&amp;la_page=1" in page  # the local authorities' previous page
    assert 'aria-label="Pages of local authorities"' in page and 'aria-label="Pages of care settings"' in page
    for hostile in ("0", "-1", "abc", "99999", "1' or '1'='1", "%00"):
        response = client.get("/reports/", {"la_page": hostile, "setting_page": hostile})
        assert response.status_code == 200


def test_the_progress_list_pages_keeping_its_filters(client_for, national):
    client = client_for(user_with_role(Role.NATIONAL_ADMIN, national))
    _organisations(120)
    url = "/reports/implementation-progress/organisations/"
    first = client.get(url, {"region": "london", "state": "not_live"}).content.decode()
    assert "80 organisations not live yet." in first
    assert "?page=2&amp;region=london&amp;state=not_live" in first
    second = client.get(url, {"region": "london", "state": "not_live", "page": "2"}).content.decode()
    assert second.count('aria-hidden="true">Organisation </span>') == 30
    for hostile in ("0", "abc", "99999", "<script>"):
        assert client.get(url, {"page": hostile}).status_code == 200


def test_the_national_totals_of_a_local_authority_equal_its_days_added_up(
    local_authority, other_local_authority, care_setting, other_care_setting
):
    from reports.metrics import local_authority_reports
    from reports.rollup import days_roll_up
    from tests.reports.test_rollup import _history

    today = _history(local_authority, other_local_authority, care_setting, other_care_setting)
    las = [local_authority, other_local_authority]

    def figures(reports):
        return [(r.notifications, r.acknowledged, r.median_hours, r.p90_hours, r.overdue) for r in reports]

    ranges = [(today - timedelta(days=n), today - timedelta(days=m)) for n, m in ((12, 0), (11, 4), (10, 10), (3, 0))]
    # Nothing rolled up, some days (a hole), then every past day.
    for rolled in ([], [(today - timedelta(days=12), today - timedelta(days=6))], [(None, None)]):
        for first, last in rolled:
            days_roll_up(first, last)
        for start, end in ranges:
            by_day = figures(local_authority_reports(las, start, end))
            totals = local_authority_reports(las, start, end, per_day=False)
            assert figures(totals) == by_day and all(r.weeks == [] for r in totals)
    assert figures(local_authority_reports(las, *ranges[0], per_day=False))[0][:2] == (3, 3)
