"""The audit viewer: national admins search everything; org admins see their own organisation."""

import csv
import datetime as dt
import html
import io
import re
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from accounts.models import Membership, Role, User
from audit.masking import nhs_number_masked
from audit.models import AuditAction, AuditEvent
from tests.factories import nhs_number_for

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
# The results page, whatever the number of events: the session with its user (the 2FA device
# and memberships with training are kept from the search's own request, accounts/signed_in.py);
# the people the search names; the page of events with their users and organisations.
RESULTS_PAGE_QUERIES = 3
CHILD = nhs_number_for(1)
OTHER_CHILD = nhs_number_for(2)


def event(*, user=None, organisation=None, action=AuditAction.LOGIN, nhs_number="", when=None, detail=None, roles=""):
    return AuditEvent.objects.create(
        user=user,
        roles=roles,
        organisation=organisation,
        action=action,
        nhs_number=nhs_number,
        occurred_at=when or dt.datetime(2026, 3, 10, 12, 0, tzinfo=LONDON),
        detail=detail or {},
    )


def search(client, **criteria):
    data = {
        "user": "",
        "nhs_number": "",
        "organisation": "",
        "action": "",
        "date_from_day": "",
        "date_from_month": "",
        "date_from_year": "",
        "date_to_day": "",
        "date_to_month": "",
        "date_to_year": "",
    }
    data.update(criteria)
    response = client.post(reverse("audit:events"), data)
    if response.status_code == 302:
        # The search is the URL the POST redirects to, run (and audited) when the browser opens
        # it; export() exports the same search.
        client.searched = response.url
        client.get(response.url)
    return response


def not_about_the_search(rows: list[dict]) -> list[dict]:
    """Rows other than the viewer's own searching and exporting, which are audited too."""
    return [r for r in rows if r["action"] not in (AuditAction.AUDIT_SEARCHED, AuditAction.AUDIT_EXPORTED)]


def export(client) -> list[dict]:
    """The CSV of the search last made (its link carries the search's query string)."""
    query = urlsplit(getattr(client, "searched", "")).query
    response = client.get(reverse("audit:events_csv") + (f"?{query}" if query else ""))
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def national_admin(role_user):
    return role_user(Role.NATIONAL_ADMIN)


def test_search_by_nhs_number_never_puts_it_in_a_url(client_for, national_admin, role_user, care_setting):
    clinician = role_user(Role.CLINICIAN, care_setting)
    event(user=clinician, organisation=care_setting, action=AuditAction.GATE_REFUSED, nhs_number=CHILD)
    event(user=clinician, organisation=care_setting, action=AuditAction.GATE_REFUSED, nhs_number=OTHER_CHILD)
    client = client_for(national_admin)
    formatted = f"{CHILD[:3]} {CHILD[3:6]}-{CHILD[6:]}"
    response = search(client, nhs_number=formatted)
    assert response.status_code == 302 and CHILD not in response.url
    rows = export(client)
    assert [r["nhs_number"] for r in not_about_the_search(rows)] == [CHILD]
    # Searching by a child's NHS number is itself recorded against that number.
    assert {r["action"] for r in rows} - {AuditAction.GATE_REFUSED} == {
        AuditAction.AUDIT_SEARCHED,
        AuditAction.AUDIT_EXPORTED,
    }
    page = client.get(client.searched).content.decode()
    assert CHILD in page and OTHER_CHILD not in page
    # Recorded each time the search's page was opened (after the form, and once more above).
    searched = AuditEvent.objects.filter(action=AuditAction.AUDIT_SEARCHED)
    assert searched.count() == 2
    for each in searched:
        assert each.user == national_admin and each.nhs_number == CHILD
        assert each.detail == {"criteria": ["nhs_number"]}


def test_invalid_nhs_number_is_refused(client_for, national_admin):
    response = search(client_for(national_admin), nhs_number="1234567890")
    assert response.status_code == 400
    assert "Enter a valid 10-digit NHS number" in response.content.decode()


def test_search_by_user_organisation_action_and_inclusive_date_range(
    client_for, national_admin, role_user, care_setting, local_authority
):
    clinician = role_user(Role.CLINICIAN, care_setting)
    worker = role_user(Role.SOCIAL_WORKER, local_authority)
    day = dt.datetime(2026, 3, 10, tzinfo=LONDON)
    late_on_the_last_day = event(
        user=clinician, organisation=care_setting, when=day + dt.timedelta(hours=23, minutes=59)
    )
    event(user=clinician, organisation=care_setting, when=day + dt.timedelta(days=1, minutes=1))
    event(user=clinician, organisation=care_setting, when=day - dt.timedelta(days=2))
    event(user=clinician, organisation=care_setting, action=AuditAction.LOGOUT, when=day)
    event(user=worker, organisation=local_authority, when=day)
    client = client_for(national_admin)
    search(
        client,
        user=clinician.email.upper(),
        organisation=care_setting.ods_code.lower(),
        action=AuditAction.LOGIN,
        date_from_day="9",
        date_from_month="3",
        date_from_year="2026",
        date_to_day="10",
        date_to_month="3",
        date_to_year="2026",
    )
    rows = export(client)
    assert len(rows) == 1
    assert rows[0]["occurred_at"] == late_on_the_last_day.occurred_at.astimezone(LONDON).isoformat(timespec="seconds")
    assert rows[0]["user_email"] == clinician.email and rows[0]["organisation"] == care_setting.ods_code


def test_date_range_backwards_and_unknown_organisation_are_refused(client_for, national_admin):
    response = search(
        client_for(national_admin),
        organisation="NOPE1",
        date_from_day="10",
        date_from_month="3",
        date_from_year="2026",
        date_to_day="9",
        date_to_month="3",
        date_to_year="2026",
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "no organisation with this ODS code" in page and "must be the same as or after" in page


def _link(page: str, direction: str) -> str:
    """The page's newer or older link, which keeps the search's query before its position."""
    found = re.search(rf'href="(\?(?:[^"]*&amp;)?{direction}=[0-9.]+)"', page)[1]
    return reverse("audit:events") + html.unescape(found)


def test_results_are_paged_newest_first_without_counting(client_for, national_admin, care_setting):
    start = dt.datetime(2026, 1, 1, 9, tzinfo=LONDON)
    for i in range(60):
        event(organisation=care_setting, when=start + dt.timedelta(minutes=i))
    client = client_for(national_admin)
    search(client, organisation=care_setting.ods_code)
    first = client.get(client.searched).content.decode()
    assert "Events found, newest first" in first
    assert "Older events" in first and "Newer events" not in first
    assert "9:59:00" in first and "9:10:00" in first and "9:09:00" not in first
    second = client.get(_link(first, "before")).content.decode()
    assert "9:09:00" in second and "9:00:00" in second and "9:10:00" not in second
    assert "Older events" not in second and "Newer events" in second
    back = client.get(_link(second, "after")).content.decode()
    assert "9:59:00" in back and "9:10:00" in back and "9:09:00" not in back


def test_pages_split_events_of_the_same_moment_exactly_once(client_for, national_admin, care_setting, monkeypatch):
    monkeypatch.setattr("administration.audit_log.views.PAGE_SIZE", 2)
    same = [event(organisation=care_setting, action=AuditAction.LOGOUT) for _ in range(5)]
    client = client_for(national_admin)
    search(client, action=AuditAction.LOGOUT)
    seen, page, url = [], "", client.searched
    for _ in range(3):
        response = client.get(url)
        page = response.content.decode()
        seen += [int(pk) for pk in re.findall(r'data-event="(\d+)"', page)]
        if "Older events" not in page:
            break
        url = _link(page, "before")
    assert seen == [e.pk for e in reversed(same)]
    newer = client.get(_link(page, "after")).content.decode()
    assert [int(pk) for pk in re.findall(r'data-event="(\d+)"', newer)] == [same[2].pk, same[1].pk]


def test_a_page_position_keeps_every_microsecond():
    from administration.audit_log.selectors import Position

    for micro in (0, 1, 123456, 999999):
        moment = dt.datetime(2026, 11, 30, 23, 59, 59, micro, tzinfo=dt.UTC)
        assert Position.parse(Position(moment, 7).token()) == Position(moment, 7)


@pytest.mark.parametrize("query", ["before=nonsense", "after=1.2.3", "before=99999999999999999999.1", "after="])
def test_a_mangled_page_link_shows_the_newest_page(client_for, national_admin, care_setting, query):
    event(organisation=care_setting)
    response = client_for(national_admin).get(reverse("audit:events") + "?" + query)
    assert response.status_code == 200 and 'data-testid="audit-table"' in response.content.decode()


def test_an_id_past_the_databases_integers_finds_nothing_older_rather_than_failing(client_for, national_admin):
    response = client_for(national_admin).get(reverse("audit:events") + "?before=1.99999999999999999999")
    assert response.status_code == 200 and "No events" in response.content.decode()


def test_the_results_page_costs_a_fixed_number_of_queries_and_never_counts(
    client_for, national_admin, role_user, care_setting, django_assert_num_queries
):
    clinician = role_user(Role.CLINICIAN, care_setting)
    for i in range(60):
        event(
            user=clinician,
            organisation=care_setting,
            when=dt.datetime(2026, 3, 1, tzinfo=LONDON) + dt.timedelta(hours=i),
        )
    client = client_for(national_admin)
    search(client, user=clinician.email, action=AuditAction.LOGIN)
    # The search's first page records the search, too (one insert).
    with django_assert_num_queries(RESULTS_PAGE_QUERIES + 1) as queries:
        first = client.get(client.searched).content.decode()
    with django_assert_num_queries(RESULTS_PAGE_QUERIES):
        client.get(_link(first, "before"))
    assert not [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


def test_the_export_never_counts_and_streams_from_a_server_side_cursor(
    client_for, national_admin, care_setting, django_assert_max_num_queries
):
    for _ in range(3):
        event(organisation=care_setting)
    client = client_for(national_admin)
    with django_assert_max_num_queries(20) as queries:
        rows = export(client)
    assert len(not_about_the_search(rows)) == 3
    statements = [q["sql"].upper() for q in queries.captured_queries]
    assert not [s for s in statements if "COUNT(" in s]


def test_clear_forgets_the_search(client_for, national_admin):
    client = client_for(national_admin)
    search(client, nhs_number=CHILD)
    client.post(reverse("audit:events"), {"clear": "1"})
    assert "audit_search" not in client.session


def test_org_admin_sees_only_events_of_their_organisation(
    client_for, role_user, care_setting, other_care_setting, local_authority
):
    admin = role_user(Role.ORG_ADMIN, care_setting)
    mine = role_user(Role.CLINICIAN, care_setting)
    shared = role_user(Role.CLINICIAN, care_setting)
    Membership.objects.create(user=shared, organisation=other_care_setting, role=Role.CLINICIAN)
    stranger = role_user(Role.CLINICIAN, other_care_setting)

    at_my_org = event(user=mine, organisation=care_setting, nhs_number=CHILD, action=AuditAction.GATE_REFUSED)
    my_users_sign_in = event(user=mine, action=AuditAction.LOGIN)
    locked = event(action=AuditAction.ACCOUNT_LOCKED, detail={"subject_user_id": mine.pk})
    national_at_my_org = event(organisation=care_setting, action=AuditAction.ROLE_GRANTED)
    event(user=shared, organisation=other_care_setting, action=AuditAction.GATE_REFUSED, nhs_number=OTHER_CHILD)
    event(user=stranger, organisation=other_care_setting)
    event(user=stranger, action=AuditAction.LOGIN)
    event(action=AuditAction.ACCOUNT_LOCKED, detail={"subject_user_id": stranger.pk})
    event(organisation=local_authority)

    client = client_for(admin)
    rows = export(client)
    exported_ids = {
        (r["action"], r["user_email"], r["organisation"], r["nhs_number"]) for r in not_about_the_search(rows)
    }
    expected = {
        (
            e.action,
            e.user.email if e.user else "",
            e.organisation.ods_code if e.organisation else "",
            nhs_number_masked(e.nhs_number),
        )
        for e in (at_my_org, my_users_sign_in, locked, national_at_my_org)
    }
    assert exported_ids == expected
    page = client.get(reverse("audit:events")).content.decode()
    assert OTHER_CHILD not in page and stranger.email not in page
    # No organisation search field for an org admin: they cannot even ask for another organisation.
    assert 'name="organisation"' not in page


def test_org_admin_cannot_widen_the_search_to_another_organisation(
    client_for, role_user, care_setting, local_authority
):
    admin = role_user(Role.ORG_ADMIN, care_setting)
    event(organisation=local_authority, nhs_number=CHILD)
    client = client_for(admin)
    search(client, organisation=local_authority.ods_code, nhs_number=CHILD)
    assert not_about_the_search(export(client)) == []


def test_export_is_neutralised_and_audited(client_for, national_admin, role_user, care_setting):
    clinician = role_user(Role.CLINICIAN, care_setting)
    User.objects.filter(pk=clinician.pk).update(full_name="@SUM(1+1)*cmd")
    event(user=clinician, organisation=care_setting, detail={"note": "=cmd|' /C calc'!A0"})
    client = client_for(national_admin)
    search(client, organisation=care_setting.ods_code)
    rows = not_about_the_search(export(client))
    assert rows[0]["user_name"] == "'@SUM(1+1)*cmd"
    exported = AuditEvent.objects.get(action=AuditAction.AUDIT_EXPORTED)
    assert exported.user == national_admin and exported.detail == {"criteria": ["organisation"]}


def test_admin_actions_are_themselves_searchable(client_for, national_admin, role_user, care_setting):
    # Every admin action lands in the log the viewer searches.
    admin = role_user(Role.ORG_ADMIN, care_setting)
    clinician = role_user(Role.CLINICIAN, care_setting)
    client_for(admin).post(
        reverse("administration:user_deactivate", kwargs={"user_id": clinician.pk}),
    )
    client = client_for(national_admin)
    search(client, user=admin.email, action=AuditAction.USER_DEACTIVATED)
    rows = not_about_the_search(export(client))
    assert len(rows) == 1 and rows[0]["roles"] == "org_admin" and rows[0]["organisation"] == care_setting.ods_code


def test_results_page_queries_do_not_grow_with_events(
    client_for, national_admin, role_user, care_setting, django_assert_max_num_queries
):
    clinician = role_user(Role.CLINICIAN, care_setting)
    client = client_for(national_admin)
    event(user=clinician, organisation=care_setting)
    client.get(reverse("audit:events"))
    with django_assert_max_num_queries(20) as baseline:
        client.get(reverse("audit:events"))
    for _ in range(30):
        event(user=role_user(Role.CLINICIAN, care_setting), organisation=care_setting, roles="clinician")
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        page = client.get(reverse("audit:events"))
    assert "Northshire General ED – clinician" in page.content.decode()


def test_each_event_says_whom_it_affected(client_for, national_admin, role_user, care_setting):
    admin = role_user(Role.ORG_ADMIN, care_setting)
    subject = role_user(Role.CLINICIAN, care_setting)
    event(user=admin, organisation=care_setting, action=AuditAction.ROLE_GRANTED,
          detail={"subject_user_id": subject.pk, "role": "safeguarding_lead"})  # fmt: skip
    event(user=admin, organisation=care_setting, action=AuditAction.USER_DEACTIVATED,
          detail={"subject_user_id": subject.pk})  # fmt: skip

    page = client_for(national_admin).get(reverse("audit:events")).content.decode()

    assert f"About: {subject.full_name}, role: safeguarding lead" in page
    assert page.count(f"About: {subject.full_name}") == 2


def test_whom_affected_costs_the_same_queries_for_many_events(
    client_for, national_admin, role_user, care_setting, django_assert_max_num_queries
):
    admin = role_user(Role.ORG_ADMIN, care_setting)
    client = client_for(national_admin)
    event(user=admin, organisation=care_setting, detail={"subject_user_id": admin.pk})
    client.get(reverse("audit:events"))
    with django_assert_max_num_queries(25) as baseline:
        client.get(reverse("audit:events"))
    for _ in range(20):
        event(
            user=admin,
            organisation=care_setting,
            detail={"subject_user_id": role_user(Role.CLINICIAN, care_setting).pk},
        )
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        client.get(reverse("audit:events"))


def test_action_list_is_grouped_and_ordered(client_for, national_admin):
    page = client_for(national_admin).get(reverse("audit:events")).content.decode()

    assert '<optgroup label="Sign-in and sessions">' in page
    assert '<optgroup label="Plans and uploads">' in page
    assert page.index('<optgroup label="Sign-in and sessions">') < page.index(
        '<optgroup label="Notifications and webhooks">'
    )
    plans_group = page.split('<optgroup label="Plans and uploads">')[1].split("</optgroup>")[0]
    labels = [line.split(">")[1].split("<")[0] for line in plans_group.splitlines() if "<option" in line]
    assert labels == sorted(labels) and "Plan created" in labels
    # Every action is still offered once.
    assert sum(page.count(f'value="{value}"') for value in AuditAction.values) == len(AuditAction.values)


def test_a_grouped_action_still_searches(client_for, national_admin, role_user, care_setting):
    event(user=role_user(Role.CLINICIAN, care_setting), action=AuditAction.PLAN_CREATED)
    client = client_for(national_admin)
    assert search(client, action=AuditAction.PLAN_CREATED).status_code == 302
    rows = not_about_the_search(export(client))
    assert [r["action"] for r in rows] == [AuditAction.PLAN_CREATED]


def test_the_search_form_shows_a_search_only_while_it_is_kept(client_for, national_admin, role_user, care_setting):
    """The form's date boxes are remembered renderings (cpis.jinja2.rendered_once): one search's
    dates must never show on another's page, and a typed name is never remembered."""
    from cpis import jinja2 as cpis_jinja2

    clinician = role_user(Role.CLINICIAN, care_setting)
    client = client_for(national_admin)
    before = client.get(reverse("audit:events")).content.decode()
    search(
        client,
        user=clinician.email,
        date_from_day="9",
        date_from_month="3",
        date_from_year="2026",
        date_to_day="10",
        date_to_month="3",
        date_to_year="2026",
    )
    searched = client.get(client.searched).content.decode()
    client.post(reverse("audit:events"), {"clear": "1"})
    after = client.get(reverse("audit:events")).content.decode()

    for name, value in [("date_from_day", 9), ("date_to_day", 10), ("date_from_year", 2026), ("user", clinician.email)]:
        assert f'name="{name}" type="text" value="{value}"' in searched
    for page in (before, after):
        assert 'value="2026"' not in page and 'value="9"' not in page and clinician.email not in page
        assert 'name="date_from_day" type="text" value=""' in page
    assert not [html for html in cpis_jinja2._rendered.values() if clinician.email in html]


# Searches are GETs with their query in the URL (issue 32); the NHS number never is.


def test_a_search_is_its_url_and_a_bookmark_of_it_runs_it_again(client_for, national_admin, role_user, care_setting):
    clinician = role_user(Role.CLINICIAN, care_setting)
    wanted = event(user=clinician, organisation=care_setting, action=AuditAction.LOGOUT)
    event(user=clinician, organisation=care_setting, action=AuditAction.LOGIN)
    response = search(
        client_for(national_admin),
        action=AuditAction.LOGOUT,
        organisation=care_setting.ods_code,
        date_from_day="9",
        date_from_month="3",
        date_from_year="2026",
    )
    assert response.status_code == 302
    query = dict(parse_qsl(urlsplit(response.url).query))
    assert query == {"action": "logout", "organisation": care_setting.ods_code, "date_from": "2026-03-09"}
    # Another session (a colleague the link was sent to, or a bookmark next week) gets the same results.
    page = client_for(national_admin).get(response.url).content.decode()
    assert [int(pk) for pk in re.findall(r'data-event="(\d+)"', page)] == [wanted.pk]
    assert 'name="date_from_day" type="text" value="9"' in page
    assert "Events found, newest first" in page
    # The CSV link is the same search.
    assert f"/audit/export.csv?{urlsplit(response.url).query}".replace("&", "&amp;") in page


def test_an_nhs_number_search_keeps_the_number_out_of_the_url_and_a_shared_link_asks_for_it_again(
    client_for, national_admin, role_user, care_setting
):
    clinician = role_user(Role.CLINICIAN, care_setting)
    event(user=clinician, organisation=care_setting, action=AuditAction.GATE_REFUSED, nhs_number=CHILD)
    event(user=clinician, organisation=care_setting, action=AuditAction.GATE_REFUSED, nhs_number=OTHER_CHILD)
    client = client_for(national_admin)
    response = search(client, nhs_number=CHILD, action=AuditAction.GATE_REFUSED)
    assert CHILD not in response.url and "nhs_number" not in response.url
    assert dict(parse_qsl(urlsplit(response.url).query)).keys() == {"action", "child"}
    page = client.get(response.url).content.decode()
    assert CHILD in page and OTHER_CHILD not in page
    assert not re.search(r'href="[^"]*\d{10}', page), "an NHS number in a link"
    # The same link in another session: the action is kept, the child is not, and it says so.
    elsewhere = client_for(national_admin).get(response.url).content.decode()
    assert 'data-testid="child-lost"' in elsewhere
    assert len(re.findall(r'data-event="(\d+)"', elsewhere)) == 2
    # A number put in the URL by hand is never searched by.
    crafted = client_for(national_admin).get(reverse("audit:events") + f"?nhs_number={CHILD}").content.decode()
    assert len(re.findall(r'data-event="(\d+)"', crafted)) >= 2
    assert not AuditEvent.objects.filter(action=AuditAction.AUDIT_SEARCHED, nhs_number=OTHER_CHILD).exists()


def test_an_org_admin_cannot_use_a_kept_nhs_number(client_for, role_user, care_setting):
    """The key of a national admin's child search means nothing in an org admin's session, and
    an org admin's own session never keeps one (the field does not exist for them)."""
    admin = role_user(Role.ORG_ADMIN, care_setting)
    event(user=admin, organisation=care_setting, action=AuditAction.GATE_REFUSED, nhs_number=CHILD)
    client = client_for(admin)
    assert search(client, nhs_number=CHILD).status_code == 302
    assert "child=" not in client.searched
    assert CHILD not in client.get(client.searched).content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "date_from=2026-02-30",
        "date_from=not-a-date&date_to=2026-13-01",
        "date_from=0001-01-01",
        "date_to=2026-03-01&date_from=2026-03-09",
        "action=not_an_action",
        "action=%00",
        "organisation=" + "X" * 5000,
        "user=" + "%F0%9F%92%A5" * 300,
        "child=../../etc&before=1.2",
        "user=a&user=b&action=login&action=logout",
    ],
)
def test_a_hostile_search_url_is_refused_with_a_message_never_a_500(client_for, national_admin, query):
    for url in (reverse("audit:events"), reverse("audit:events_csv")):
        response = client_for(national_admin).get(f"{url}?{query}")
        assert response.status_code in (200, 400), (url, query, response.status_code)
        if url.endswith("/") and response.status_code == 400:
            assert "There is a problem" in response.content.decode()


def test_every_action_has_a_named_group():
    from administration.audit_log.presentation import action_choices_grouped

    grouped = action_choices_grouped(AuditAction)
    names = [name for name, _ in grouped]
    assert "Other" not in names, [choices for name, choices in grouped if name == "Other"]
    values = [value for _, choices in grouped for value, _ in choices]
    assert sorted(values) == sorted(AuditAction.values)
    # Small enough groups to read: none of the ~100 actions in one long list.
    assert len(names) >= 8 and max(len(choices) for _, choices in grouped) <= 20


def test_an_export_larger_than_one_download_is_refused_with_what_to_narrow(
    client_for, national_admin, care_setting, other_care_setting, settings
):
    settings.AUDIT_EXPORT_MAX_ROWS = 5
    for _ in range(6):
        event(organisation=other_care_setting)
    for _ in range(2):
        event(organisation=care_setting)
    client = client_for(national_admin)
    search(client, action=AuditAction.LOGIN)
    query = urlsplit(client.searched).query
    refused = client.get(reverse("audit:events_csv") + f"?{query}", follow=True)
    # Back on the same search, told why and what to do; nothing exported, so nothing audited as one.
    assert refused.redirect_chain == [(reverse("audit:events") + f"?{query}", 302)]
    assert "more than 5, more than one download can hold" in html.unescape(refused.content.decode())
    assert not AuditEvent.objects.filter(action=AuditAction.AUDIT_EXPORTED).exists()
    search(client, action=AuditAction.LOGIN, organisation=care_setting.ods_code)
    assert len(not_about_the_search(export(client))) == 2
