"""A clinician at triage: sign in with 2FA, check a child on a plan, then one with no plan."""

import datetime as dt

import pytest
from django.utils import timezone
from django_otp.oath import totp
from playwright.sync_api import expect

from accounts.models import Role
from attendances.models import Visit
from notifications.models import Notification
from tests.browser.conftest import assert_accessible, screenshot
from tests.factories import TEST_PASSWORD, TEST_TOTP_KEY, OrganisationFactory, PlanFactory, VisitFactory, nhs_number_for

pytestmark = pytest.mark.django_db(transaction=True)


def _code() -> str:
    return f"{totp(bytes.fromhex(TEST_TOTP_KEY)):06d}"


def test_clinician_checks_a_child_on_a_plan_and_one_with_no_plan(
    page, live_server, role_user, care_setting, local_authority, csp_violations
):
    user = role_user(Role.CLINICIAN)
    plan = PlanFactory(
        organisation=local_authority,
        given_names="Alfie",
        family_name="Testchild",
        date_of_birth=dt.date(2018, 3, 27),
        start_date=dt.date(2025, 9, 1),
    )
    minor_injuries = OrganisationFactory(name="Riverside Minor Injury Unit", setting_type="MIU")
    now = timezone.now()
    VisitFactory(
        nhs_number=plan.nhs_number,
        care_setting=minor_injuries,
        arrived_at=now - dt.timedelta(days=12, hours=3),
        checked_by_name="Ana Costa",
    )
    VisitFactory(
        nhs_number=plan.nhs_number,
        care_setting=care_setting,
        arrived_at=now - dt.timedelta(days=2),
        checked_by_name="Tom Okafor",
        checked_by_role=Role.SAFEGUARDING_LEAD,
    )

    # Sign in: password, then the authenticator code.
    page.goto(live_server.url + "/login/")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Security code").fill(_code())
    page.get_by_role("button", name="Sign in").click()

    # From home to the check form.
    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Check a child").click()
    expect(page).to_have_title("Check a child – CP-IS")
    assert_accessible(page)
    screenshot(page, "check-form")

    # An invalid number first: the error summary.
    page.get_by_label("NHS number").fill("943 476 5918")
    page.get_by_role("button", name="Check").click()
    expect(page).to_have_title("Error: Check a child – CP-IS")
    expect(page.get_by_role("alert")).to_contain_text("Enter a valid 10-digit NHS number")
    assert_accessible(page)
    screenshot(page, "check-invalid-nhs-number")
    assert not Visit.objects.filter(checked_by=user).exists()

    # The child on a plan, with a date of birth that does not match.
    page.get_by_label("NHS number").fill(f"{plan.nhs_number[:3]} {plan.nhs_number[3:6]} {plan.nhs_number[6:]}")
    page.get_by_label("Day").fill("28")
    page.get_by_label("Month").fill("3")
    page.get_by_label("Year").fill("2018")
    page.get_by_role("button", name="Check").click()

    expect(page).to_have_title("CP-IS alert: Child Protection Plan – CP-IS")
    expect(page.get_by_test_id("alert-heading")).to_have_text("Child Protection Plan")
    expect(page.get_by_test_id("dob-mismatch")).to_contain_text("Check this is the right person")
    alert = page.get_by_test_id("alert")
    expect(alert).to_contain_text(local_authority.name)
    expect(alert).to_contain_text("Started 1 September 2025")
    expect(alert.get_by_role("link", name="0113 496 0001")).to_have_attribute("href", "tel:01134960001")
    expect(alert.get_by_role("link", name="0113 496 0999")).to_have_attribute("href", "tel:01134960999")
    visits = page.get_by_test_id("visits")
    expect(visits.locator("tbody tr")).to_have_count(2)
    expect(visits.locator("tbody tr").first).to_contain_text("Tom Okafor")
    expect(visits.locator("tbody tr").first).to_contain_text("Safeguarding lead")
    expect(visits.locator("tbody tr").nth(1)).to_contain_text("Riverside Minor Injury Unit (Minor injury unit)")
    assert_accessible(page)
    screenshot(page, "check-alert")
    assert Visit.objects.filter(checked_by=user, nhs_number=plan.nhs_number).count() == 1
    assert Notification.objects.filter(local_authority=local_authority, nhs_number=plan.nhs_number).count() == 1

    # A child with no plan.
    page.get_by_role("link", name="Check another child").click()
    page.get_by_label("NHS number").fill(nhs_number_for(123456))
    page.get_by_role("button", name="Check").click()
    expect(page).to_have_title("No CP-IS information – CP-IS")
    expect(page.get_by_test_id("no-information")).to_be_visible()
    expect(page.get_by_text("No visit has been recorded")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "check-no-information")
    assert not Visit.objects.filter(nhs_number=nhs_number_for(123456)).exists()
    assert not csp_violations


def test_safeguarding_lead_views_without_notifying(signed_in_page, live_server, role_user, csp_violations):
    plan = PlanFactory(unborn=True, given_names="Jess", family_name="Mother")
    page = signed_in_page(role_user(Role.SAFEGUARDING_LEAD))
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="View without notifying").click()
    page.get_by_label("NHS number").fill(plan.nhs_number)
    page.get_by_role("button", name="View without notifying").click()
    expect(page.get_by_test_id("alert-heading")).to_have_text("Unborn Child Protection Plan")
    expect(page.get_by_text("Viewed without notifying")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "silent-read-unborn")
    assert not Visit.objects.exists()
    assert not csp_violations


def test_social_worker_sees_their_childs_plans_and_visits(
    signed_in_page, live_server, role_user, local_authority, csp_violations
):
    plan = PlanFactory(organisation=local_authority, looked_after=True, given_names="Mia", family_name="Example")
    VisitFactory.create_batch(3, nhs_number=plan.nhs_number)
    page = signed_in_page(role_user(Role.SOCIAL_WORKER))
    page.goto(live_server.url + "/")
    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Find a child").click()
    page.get_by_label("NHS number").fill(plan.nhs_number)
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mia Example")
    expect(page.get_by_test_id("visits").locator("tbody tr")).to_have_count(3)
    assert_accessible(page)
    screenshot(page, "la-child-view")
    assert not csp_violations
