""" "Who has looked at this child" for a family (issue 29): everything the service holds about one
of the LA's children and every access to the record, as a page and a CSV, names included only
when the officer chooses; a care setting's officer sees only their own organisation's accesses."""

import csv
import io

import pytest
from django.urls import reverse

from accounts.models import Role
from audit.models import AuditAction, AuditEvent
from tests.notifications.checks import child_on_plan, inbox_notification, record_check

pytestmark = pytest.mark.django_db

URL = reverse("privacy:access_report")
CSV_URL = reverse("privacy:access_report_csv")


@pytest.fixture
def la_officer(role_user, local_authority):
    return role_user(Role.PRIVACY_OFFICER, local_authority)


@pytest.fixture
def checked(local_authority, care_setting, other_care_setting, role_user):
    """A child on the LA's plan, checked at two care settings by named clinicians."""
    here = role_user(Role.CLINICIAN, care_setting)
    there = role_user(Role.CLINICIAN, other_care_setting)
    notification = inbox_notification(local_authority, care_setting)
    plan = notification.local_authority.plans.get(nhs_number=notification.nhs_number)
    record_check(plans=[plan], care_setting=care_setting, user=here)
    record_check(plans=[plan], care_setting=other_care_setting, user=there)
    return plan, here, there


def test_la_officer_sees_everything_held_and_every_access_names_withheld(client_for, la_officer, checked):
    plan, here, there = checked
    response = client_for(la_officer).post(URL, {"nhs_number": plan.nhs_number})
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="plan"' in page and 'data-testid="visits"' in page and 'data-testid="notifications"' in page
    assert 'data-testid="identity"' in page
    accesses = page.split('data-testid="accesses"')[1]
    assert accesses.count("Child checked") >= 2
    assert here.full_name not in page and there.full_name not in page and "Withheld" in page
    request = AuditEvent.objects.get(action=AuditAction.PRIVACY_ACCESS_REPORT)
    assert request.nhs_number == plan.nhs_number and request.user == la_officer
    assert request.detail == {"include_names": False, "format": "page", "held": True}


def test_la_officer_may_include_staff_names(client_for, la_officer, checked):
    plan, here, there = checked
    page = client_for(la_officer).post(URL, {"nhs_number": plan.nhs_number, "include_names": "on"}).content.decode()
    assert here.full_name in page and there.full_name in page


def test_la_officer_gets_nothing_for_another_las_child(client_for, role_user, other_local_authority, checked):
    plan, here, _ = checked
    elsewhere = role_user(Role.PRIVACY_OFFICER, other_local_authority)
    page = client_for(elsewhere).post(URL, {"nhs_number": plan.nhs_number, "include_names": "on"}).content.decode()
    assert 'data-testid="not-held"' in page and here.full_name not in page
    assert AuditEvent.objects.get(action=AuditAction.PRIVACY_ACCESS_REPORT, user=elsewhere).detail["held"] is False


def test_care_setting_officer_sees_only_their_own_organisations_accesses(client_for, role_user, care_setting, checked):
    plan, here, there = checked
    officer = role_user(Role.PRIVACY_OFFICER, care_setting)
    page = client_for(officer).post(URL, {"nhs_number": plan.nhs_number, "include_names": "on"}).content.decode()
    assert here.full_name in page and there.full_name not in page
    assert 'data-testid="notifications"' not in page and 'data-testid="plan"' not in page


def test_the_csv_lists_every_access_names_withheld(client_for, la_officer, checked, local_authority):
    plan, here, there = checked
    response = client_for(la_officer).post(CSV_URL, {"nhs_number": plan.nhs_number})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "When"
    checks = [r for r in rows[1:] if r[4].startswith("Child checked")]
    assert len(checks) >= 2 and {r[6] for r in rows[1:]} == {"Withheld"}
    assert AuditEvent.objects.get(action=AuditAction.PRIVACY_ACCESS_REPORT).detail["format"] == "csv"


def test_a_bad_nhs_number_is_a_clear_error(client_for, la_officer):
    response = client_for(la_officer).post(URL, {"nhs_number": "1234567890"})
    assert response.status_code == 400
    assert 'class="nhsuk-error-summary"' in response.content.decode()
    assert client_for(la_officer).post(CSV_URL, {"nhs_number": "12"}).status_code == 400
    assert not AuditEvent.objects.filter(action=AuditAction.PRIVACY_ACCESS_REPORT).exists()


def test_a_child_on_the_las_plan_nobody_checked_is_still_reported(client_for, la_officer, local_authority):
    plan = child_on_plan(local_authority)
    page = client_for(la_officer).post(URL, {"nhs_number": plan.nhs_number}).content.decode()
    assert 'data-testid="plan"' in page and 'data-testid="not-held"' not in page
