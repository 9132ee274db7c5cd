"""The check journey through HTTP: the form, the alert, no information, silent read, errors."""

import datetime as dt
import re
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from attendances.models import Visit
from audit.models import AuditAction, AuditEvent
from notifications.models import Notification
from tests.factories import PlanFactory, VisitFactory, nhs_number_for

# Also on SQLite, as the demo runs (`make test`, cpis/settings/test_sqlite.py).
pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]

CHECK = reverse("attendances:check")
SILENT = reverse("attendances:view_silently")


def _post(client, url=CHECK, **data):
    data.setdefault("check_token", str(uuid.uuid4()))
    return client.post(url, data)


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def clinician_client(role_user, client_for):
    return client_for(role_user(Role.CLINICIAN))


@pytest.fixture
def lead_client(role_user, client_for):
    return client_for(role_user(Role.SAFEGUARDING_LEAD))


def test_check_form_carries_a_fresh_token_and_no_cache(clinician_client):
    first = clinician_client.get(CHECK)
    second = clinician_client.get(CHECK)

    assert first.status_code == 200
    tokens = [re.search(r'name="check_token" value="([0-9a-f-]{36})"', r.content.decode())[1] for r in (first, second)]
    assert tokens[0] != tokens[1]
    assert "no-store" in first["Cache-Control"]
    assert "<title>Check a child – CP-IS</title>" in first.content.decode()


def test_child_on_a_plan_shows_the_alert_contacts_and_visits(clinician_client, local_authority, care_setting):
    plan = PlanFactory(organisation=local_authority, given_names="Alfie", family_name="Testchild")
    VisitFactory(nhs_number=plan.nhs_number, care_setting=care_setting, checked_by_name="Dr Earlier")

    response = _post(clinician_client, nhs_number=plan.nhs_number)

    text = _text(response)
    assert response.status_code == 200
    assert "<title>CP-IS alert: Child Protection Plan – CP-IS</title>" in text
    assert "nhsuk-card--warning" in text  # the NHS.UK warning callout, not a care card
    assert "Northshire County Council" in text
    assert 'href="tel:01134960001"' in text  # office hours
    assert 'href="tel:01134960999"' in text  # emergency duty
    assert "Alfie Testchild" in text
    assert "Open</strong> Started" in text
    assert "Dr Earlier" in text
    assert "We recorded this visit and told Northshire County Council." in text
    assert Visit.objects.filter(nhs_number=plan.nhs_number).count() == 2
    assert Notification.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.CHILD_CHECKED, nhs_number=plan.nhs_number).count() == 1


def test_ended_plan_is_shown_as_ended(clinician_client):
    plan = PlanFactory(ended=True)

    text = _text(_post(clinician_client, nhs_number=plan.nhs_number))

    assert "Child Protection Plan (ended)" in text
    assert "Ended</strong>" in text
    assert f"ended {plan.end_date:%-d %B %Y}" in text


def test_unborn_child_plan_says_it_is_held_against_the_mother(clinician_client):
    plan = PlanFactory(unborn=True)

    text = _text(_post(clinician_client, nhs_number=plan.nhs_number))

    assert "Unborn Child Protection Plan" in text
    assert "Held against the mother's record; baby due" in text


def test_child_with_no_plan_shows_no_information_and_stores_no_visit(clinician_client):
    number = nhs_number_for(4242)

    response = _post(clinician_client, nhs_number=number)

    text = _text(response)
    assert response.status_code == 200
    assert "No CP-IS information" in text
    assert "No visit has been recorded" in text
    assert "nhsuk-card--warning" not in text
    assert not Visit.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.CHILD_CHECKED, nhs_number=number).exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Enter the NHS number"),
        ("9434765918", "Enter a valid 10-digit NHS number"),
        ("12345", "Enter a valid 10-digit NHS number"),
        ("943 476 591A", "Enter a valid 10-digit NHS number"),
    ],
)
def test_invalid_nhs_number_is_refused_with_the_error_summary(clinician_client, value, message):
    response = _post(clinician_client, nhs_number=value)

    text = _text(response)
    assert response.status_code == 400
    assert "<title>Error: Check a child – CP-IS</title>" in text
    assert "nhsuk-error-summary" in text
    assert 'href="#id_nhs_number"' in text
    assert message in text
    assert not Visit.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.CHILD_CHECKED).exists()


def test_date_of_birth_mismatch_shows_the_identity_warning_with_the_alert(clinician_client):
    plan = PlanFactory(date_of_birth=dt.date(2017, 5, 4))

    text = _text(_post(clinician_client, nhs_number=plan.nhs_number, dob_day="5", dob_month="4", dob_year="2017"))

    assert "Check this is the right person" in text
    assert "5 April 2017" in text and "4 May 2017" in text
    assert "Child Protection Plan" in text
    assert Visit.objects.count() == 1


def test_matching_date_of_birth_shows_no_identity_warning(clinician_client):
    plan = PlanFactory(date_of_birth=dt.date(2017, 5, 4))
    text = _text(_post(clinician_client, nhs_number=plan.nhs_number, dob_day="4", dob_month="5", dob_year="2017"))
    assert "Check this is the right person" not in text


@pytest.mark.parametrize(
    ("day", "month", "year", "message"),
    [
        ("4", "", "2017", "Date of birth must include a day, month and year"),
        ("31", "2", "2017", "Date of birth must be a real date"),
        ("1", "1", "17", "Date of birth must be a real date"),
        ("1", "1", "2999", "Date of birth must be today or in the past"),
    ],
)
def test_bad_date_of_birth_is_refused(clinician_client, day, month, year, message):
    plan = PlanFactory()
    response = _post(clinician_client, nhs_number=plan.nhs_number, dob_day=day, dob_month=month, dob_year=year)
    assert response.status_code == 400
    assert message in _text(response)
    assert 'href="#id_dob_day"' in _text(response)
    assert not Visit.objects.exists()


def test_arrival_time_is_recorded_in_london_time(clinician_client):
    plan = PlanFactory()
    _post(clinician_client, nhs_number=plan.nhs_number, arrival_time="00:01", arrival_confirmed="on")

    arrived = timezone.localtime(Visit.objects.get().arrived_at)
    assert (arrived.hour, arrived.minute) == (0, 1)
    assert timezone.now() - dt.timedelta(days=1) <= arrived <= timezone.now() + dt.timedelta(minutes=5)


def test_arrival_time_defaults_to_now(clinician_client):
    plan = PlanFactory()
    before = timezone.now()
    _post(clinician_client, nhs_number=plan.nhs_number)
    assert before <= Visit.objects.get().arrived_at <= timezone.now()


def test_bad_arrival_time_is_refused(clinician_client):
    response = _post(clinician_client, nhs_number=PlanFactory().nhs_number, arrival_time="25:00")
    assert response.status_code == 400
    assert "Enter the arrival time using the 24-hour clock" in _text(response)


def test_double_submitted_form_records_one_visit(clinician_client):
    plan = PlanFactory()
    data = {"nhs_number": plan.nhs_number, "check_token": str(uuid.uuid4())}

    first = clinician_client.post(CHECK, data)
    second = clinician_client.post(CHECK, data)

    assert first.status_code == second.status_code == 200
    assert Visit.objects.count() == 1
    assert Notification.objects.get().attendance_count == 1
    assert "This check was already sent" in _text(second)


def test_a_form_without_a_token_still_checks_the_child(clinician_client):
    # A clinician at triage is never blocked by a hidden field; the token only prevents duplicates.
    plan = PlanFactory()
    response = clinician_client.post(CHECK, {"nhs_number": plan.nhs_number, "check_token": "not-a-uuid"})
    assert response.status_code == 200
    assert Visit.objects.count() == 1


def test_page_never_shows_more_than_25_visits_and_the_26th_is_trimmed(
    clinician_client, django_capture_on_commit_callbacks
):
    plan = PlanFactory()
    now = timezone.now()
    visits = [VisitFactory(nhs_number=plan.nhs_number, arrived_at=now - dt.timedelta(hours=h + 1)) for h in range(25)]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _post(clinician_client, nhs_number=plan.nhs_number)

    assert len(_trims(callbacks)) == 1  # the trim, enqueued after commit
    assert _text(response).count("nhsuk-table__row") == 1 + 25  # header + 25 previous visits
    remaining = Visit.objects.filter(nhs_number=plan.nhs_number)
    assert remaining.count() == 25
    assert not remaining.filter(pk=visits[-1].pk).exists()  # the oldest went
    assert remaining.filter(checked_by_role=Role.CLINICIAN, arrived_at__gte=now - dt.timedelta(minutes=1)).exists()


def test_no_trim_is_enqueued_while_the_history_is_short(clinician_client, django_capture_on_commit_callbacks):
    plan = PlanFactory()
    VisitFactory.create_batch(3, nhs_number=plan.nhs_number)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _post(clinician_client, nhs_number=plan.nhs_number)
    assert _trims(callbacks) == []
    assert Visit.objects.count() == 4


def test_safeguarding_lead_views_without_notifying(lead_client):
    plan = PlanFactory()
    VisitFactory(nhs_number=plan.nhs_number, checked_by_name="Dr Earlier")

    response = _post(lead_client, SILENT, nhs_number=plan.nhs_number)

    text = _text(response)
    assert response.status_code == 200
    assert "Child Protection Plan" in text and "Dr Earlier" in text
    assert "Viewed without notifying" in text
    assert Visit.objects.count() == 1
    assert not Notification.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.CHILD_VIEWED_SILENTLY, nhs_number=plan.nhs_number).exists()


def test_safeguarding_lead_can_also_check_and_is_recorded_as_lead(lead_client):
    plan = PlanFactory()
    _post(lead_client, nhs_number=plan.nhs_number)
    assert Visit.objects.get().checked_by_role == Role.SAFEGUARDING_LEAD


def test_clinician_cannot_view_without_notifying(clinician_client):
    plan = PlanFactory()
    response = _post(clinician_client, SILENT, nhs_number=plan.nhs_number)
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(nhs_number=plan.nhs_number).exists()


@pytest.mark.parametrize("role", [Role.SOCIAL_WORKER, Role.PLAN_MANAGER, Role.ORG_ADMIN, Role.NATIONAL_ADMIN])
@pytest.mark.parametrize("url", [CHECK, SILENT])
def test_other_roles_cannot_check_or_view(role_user, client_for, role, url):
    plan = PlanFactory()
    response = _post(client_for(role_user(role)), url, nhs_number=plan.nhs_number)
    assert response.status_code == 403
    assert not Visit.objects.exists()
    assert "Child Protection Plan" not in _text(response)


@pytest.mark.parametrize(
    ("kwargs", "missing"),
    [
        ({"trained": False}, "There is no record of your CP-IS training."),
        ({"enrolled": False}, "You have not used two-factor authentication at this sign-in."),
    ],
)
@pytest.mark.parametrize(("role", "url"), [(Role.CLINICIAN, CHECK), (Role.SAFEGUARDING_LEAD, SILENT)])
def test_trained_user_gate_blocks_checks(role_user, client_for, kwargs, missing, role, url):
    plan = PlanFactory()
    client = client_for(role_user(role, **kwargs))

    for response in (client.get(url), _post(client, url, nhs_number=plan.nhs_number)):
        assert response.status_code == 403
        assert missing in _text(response)
    assert not Visit.objects.exists()
    assert not AuditEvent.objects.filter(nhs_number=plan.nhs_number).exists()


def test_password_without_second_factor_at_this_login_is_blocked(role_user, client_for):
    plan = PlanFactory()
    client = client_for(role_user(Role.CLINICIAN), verified=False)
    response = _post(client, nhs_number=plan.nhs_number)
    assert response.status_code == 403
    assert not Visit.objects.exists()


def test_anonymous_user_is_sent_to_sign_in(client):
    plan = PlanFactory()
    response = _post(client, nhs_number=plan.nhs_number)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert not Visit.objects.exists()


def test_plans_at_two_las_show_both_las_contacts(clinician_client, local_authority, other_local_authority):
    other_local_authority.office_hours_phone = "0117 496 0002"
    other_local_authority.emergency_duty_phone = "0117 496 0998"
    other_local_authority.save()
    plan = PlanFactory(organisation=local_authority)
    PlanFactory(organisation=other_local_authority, nhs_number=plan.nhs_number, looked_after=True)

    text = _text(_post(clinician_client, nhs_number=plan.nhs_number))

    assert "Child Protection Plan and Looked After Child" in text
    assert text.count("nhsuk-card--warning") == 2
    for phone in ("tel:01134960001", "tel:01134960999", "tel:01174960002", "tel:01174960998"):
        assert f'href="{phone}"' in text
    assert "told Northshire County Council and Southborough City Council" in text
    assert Notification.objects.count() == 2


def _trims(callbacks) -> list:
    # The check also enqueues the notification's delivery after commit; these tests are about the trim.
    return [c for c in callbacks if "visits_trim" in repr(c)]


def test_open_plan_is_listed_first_and_never_called_ended(clinician_client, local_authority):
    """An ended LAC beside an open CPP: the heading must not read as if the CPP had ended."""
    child = PlanFactory(organisation=local_authority, plan_type="CPP")
    PlanFactory(
        organisation=local_authority,
        nhs_number=child.nhs_number,
        date_of_birth=child.date_of_birth,
        looked_after=True,
        ended=True,
        start_date=timezone.localdate() - dt.timedelta(days=900),
    )

    text = _text(_post(clinician_client, nhs_number=child.nhs_number))

    heading = re.search(r'data-testid="alert-heading">([^<]*)<', text)[1]
    assert heading == "Child Protection Plan (open) and Looked After Child (ended)"
    assert text.index('data-testid="plan-cpp"') < text.index('data-testid="plan-lac"')


def test_local_authority_with_an_open_plan_comes_before_one_whose_plan_ended(
    clinician_client, local_authority, other_local_authority
):
    # "Northshire" sorts before "Southborough"; the open plan must still come first.
    ended = PlanFactory(organisation=local_authority, ended=True)
    PlanFactory(organisation=other_local_authority, nhs_number=ended.nhs_number, date_of_birth=ended.date_of_birth)

    text = _text(_post(clinician_client, nhs_number=ended.nhs_number))

    assert text.index("Southborough City Council") < text.index("Northshire County Council")
    assert "Child Protection Plan</h1>" in text


def test_plan_status_has_one_colour_on_the_alert_and_the_plan_pages(clinician_client, role_user, client_for):
    plan = PlanFactory()
    alert = _text(_post(clinician_client, nhs_number=plan.nhs_number))
    manager = client_for(role_user(Role.PLAN_MANAGER, plan.organisation))
    listing = _text(manager.get(reverse("plans:list")))
    detail = _text(manager.get(reverse("plans:detail", args=[plan.pk])))

    for page in (alert, listing, detail):
        assert 'nhsuk-tag--blue">Open</strong>' in page
        assert "nhsuk-tag--red" not in page and "nhsuk-tag--green" not in page


def _recent_time(hours_ago: float) -> str:
    return f"{timezone.localtime(timezone.now() - dt.timedelta(hours=hours_ago)):%H:%M}"


def test_an_arrival_more_than_12_hours_ago_is_confirmed_before_it_is_recorded(clinician_client):
    plan = PlanFactory()
    typed = _recent_time(13)

    response = _post(clinician_client, nhs_number=plan.nhs_number, arrival_time=typed)

    text = _text(response)
    assert response.status_code == 400
    assert "13 hours ago. Confirm that is right, or correct the time" in text
    assert 'name="arrival_confirmed"' in text
    assert not Visit.objects.exists()

    confirmed = _post(clinician_client, nhs_number=plan.nhs_number, arrival_time=typed, arrival_confirmed="on")

    visit = Visit.objects.get()
    assert f"{timezone.localtime(visit.arrived_at):%H:%M}" == typed
    assert f"Arrival recorded: <strong>{timezone.localtime(visit.arrived_at):%-d %B %Y, %H:%M}</strong>" in _text(
        confirmed
    )


def test_a_recent_arrival_time_needs_no_confirmation_and_is_shown_on_the_alert(clinician_client):
    plan = PlanFactory()
    typed = _recent_time(2)

    text = _text(_post(clinician_client, nhs_number=plan.nhs_number, arrival_time=typed))

    assert re.search(rf"Arrival recorded: <strong>[^<]*, {typed}</strong>", text)


def test_repeat_checks_in_one_episode_are_one_row_of_the_visit_list(lead_client, care_setting, other_care_setting):
    plan = PlanFactory()
    now = timezone.now()
    for minutes in (300, 240, 60):
        VisitFactory(
            nhs_number=plan.nhs_number, care_setting=care_setting, arrived_at=now - dt.timedelta(minutes=minutes)
        )
    VisitFactory(nhs_number=plan.nhs_number, care_setting=other_care_setting, arrived_at=now - dt.timedelta(days=3))

    text = _text(_post(lead_client, SILENT, nhs_number=plan.nhs_number))

    assert text.count('data-testid="episode"') == 2
    assert "Checked again 2 times, last at" in text


@pytest.mark.parametrize("url", [CHECK, SILENT, reverse("attendances:child_find")])
def test_nhs_number_fields_bring_up_the_numeric_keypad(role_user, client_for, url):
    role = Role.SOCIAL_WORKER if url == reverse("attendances:child_find") else Role.SAFEGUARDING_LEAD
    page = client_for(role_user(role)).get(url).content.decode()
    field = re.search(r'<input[^>]*name="nhs_number"[^>]*>', page)[0]
    assert 'inputmode="numeric"' in field


def test_alert_says_what_to_do_next_and_prints_who_printed_it(clinician_client):
    plan = PlanFactory()
    text = _text(_post(clinician_client, nhs_number=plan.nhs_number))
    assert 'data-testid="alert-guidance"' in text and "follow" not in text.split("What to do next")[0][-5:]
    assert 'href="/guidance/glossary/"' in text
    printed = re.search(r'data-testid="printed">([^<]*)<', text)[1]
    assert "Printed from CP-IS by" in printed and "Northshire General ED" in printed


@pytest.mark.parametrize(
    ("born", "said"),
    [
        ((2018, 12, 2), "7 years"),
        ((2025, 12, 1), "12 months"),
        ((2026, 11, 10), "3 weeks"),
        ((2026, 11, 30), "under a week"),
        ((2024, 12, 2), "23 months"),
    ],
)
def test_age_is_said_as_a_clinician_says_it(born, said):
    from attendances.display import age

    assert age(dt.date(*born), today=dt.date(2026, 12, 1)) == said


def test_alert_gives_the_childs_age(clinician_client):
    plan = PlanFactory(date_of_birth=timezone.localdate() - dt.timedelta(days=365 * 8 + 5))
    assert "(age 8 years)" in _text(_post(clinician_client, nhs_number=plan.nhs_number))


def test_date_of_birth_mismatch_is_an_error_style_warning_above_the_plans(clinician_client):
    plan = PlanFactory(date_of_birth=dt.date(2017, 5, 4))

    text = _text(_post(clinician_client, nhs_number=plan.nhs_number, dob_day="5", dob_month="4", dob_year="2017"))

    warning = re.search(r'<div class="([^"]*)"[^>]*data-testid="dob-mismatch">(.*?)</div>\s*</div>', text, re.S)
    assert warning, "no date-of-birth warning"
    # Styled as an error, not as one more local authority's card, and before the first plan card.
    assert "nhsuk-error-summary" in warning.group(1)
    assert "nhsuk-warning-callout" not in warning.group(1)
    assert text.index('data-testid="dob-mismatch"') < text.index('data-testid="alert"')
    assert re.search(r"<h2[^>]*>\s*Check this is the right person\s*</h2>", warning.group(2))
    # What has already happened is said there, not only further down the page.
    assert f"told {plan.organisation.name}" in warning.group(2)


def test_silent_read_asks_no_arrival_time_and_does_not_send_the_lead_to_themselves(lead_client):
    form = _text(lead_client.get(SILENT))
    assert "Arrival time" not in form
    assert "Arrival time" in _text(lead_client.get(CHECK))

    plan = PlanFactory()
    result = _text(_post(lead_client, SILENT, nhs_number=plan.nhs_number))
    assert "Tell your safeguarding lead" not in result
    assert "record in the patient's notes" in result.lower()


def test_a_clinician_is_still_told_to_tell_their_safeguarding_lead(clinician_client):
    plan = PlanFactory()
    assert "Tell your safeguarding lead" in _text(_post(clinician_client, nhs_number=plan.nhs_number))


def test_the_local_authority_phone_numbers_never_wrap_mid_number(clinician_client):
    plan = PlanFactory()
    text = _text(_post(clinician_client, nhs_number=plan.nhs_number))
    links = re.findall(r'<a class="([^"]*)" href="tel:[^"]*">([^<]*)</a>', text)
    assert {number for _, number in links} == {
        plan.organisation.office_hours_phone,
        plan.organisation.emergency_duty_phone,
    }
    assert all("cpis-nowrap" in classes.split() for classes, _ in links)
