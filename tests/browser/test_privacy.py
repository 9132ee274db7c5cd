"""The demo's ED privacy officer triages an alert in Chromium at desktop and 390 px (issue 29):
opens it (NHS numbers masked), opens an investigation with a reason (numbers shown), records
an outcome; every page axe clean, no CSP violation."""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from accounts.models import Organisation, User
from privacy.models import Alert, AlertRule, AlertStatus
from tests.browser.conftest import assert_accessible, screenshot

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("width", WIDTHS)
def test_ed_privacy_officer_investigates_an_alert_and_records_an_outcome(
    settings, signed_in_page, live_server, csp_violations, width
):
    settings.DEBUG = False
    call_command("seed_demo", "--force")
    page = signed_in_page(User.objects.get(email="privacy.officer@demo.example"))
    page.set_viewport_size(WIDTHS[width])

    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Access-pattern alerts").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Access-pattern alerts")
    assert_accessible(page)
    screenshot(page, f"privacy-home-{width}")

    page.get_by_test_id("open-alerts").get_by_role("link").first.click()
    numbers = page.get_by_test_id("evidence-nhs-number")
    expect(numbers.first).to_contain_text("******")
    assert_accessible(page)
    screenshot(page, f"privacy-alert-masked-{width}")

    page.get_by_role("button", name="Open investigation").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Enter why you are opening an investigation")
    assert_accessible(page)
    page.get_by_label("Why are you opening an investigation?").fill("Monthly review of the ED's alerts")
    page.get_by_role("button", name="Open investigation").click()
    expect(page.get_by_test_id("investigation")).to_contain_text("Monthly review")
    expect(numbers.first).not_to_contain_text("*")
    assert_accessible(page)
    screenshot(page, f"privacy-alert-investigating-{width}")

    page.get_by_label("No concern").check()
    page.get_by_label("Note").fill("Treating clinician: the child attended twice this week.")
    page.get_by_role("button", name="Record outcome").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Access-pattern alerts")
    expect(page.get_by_test_id("outcome-counts")).to_be_visible()
    assert_accessible(page)
    screenshot(page, f"privacy-home-after-{width}")
    assert Alert.objects.filter(status=AlertStatus.CLOSED, outcome="no_concern").count() == 1
    assert not csp_violations


@pytest.mark.parametrize("width", WIDTHS)
def test_national_admin_reviews_an_alert_about_the_eds_only_privacy_officer(
    settings, signed_in_page, live_server, csp_violations, width
):
    settings.DEBUG = False
    call_command("seed_demo", "--force")
    officer = User.objects.get(email="privacy.officer@demo.example")
    ed = Organisation.objects.get(ods_code="RDE01")
    alert = Alert.objects.create(
        organisation=ed, user=officer, rule=AlertRule.UNUSUAL_HOURS, dedupe_key="browser",
        explanation="1 checks in hours (03:00) in which this user made none of their 40 checks in 30 days.",
    )  # fmt: skip
    page = signed_in_page(User.objects.get(email="national.admin@demo.example"))
    page.set_viewport_size(WIDTHS[width])

    page.goto(live_server.url + "/privacy/national/")
    escalated = page.get_by_test_id("escalated-alerts")
    expect(escalated).to_contain_text(officer.full_name)
    assert_accessible(page)
    screenshot(page, f"privacy-national-escalated-{width}")

    escalated.get_by_role("link").first.click()
    page.get_by_label("Why are you opening an investigation?").fill("The ED has no other privacy officer")
    page.get_by_role("button", name="Open investigation").click()
    expect(page.get_by_test_id("investigation")).to_contain_text("no other privacy officer")
    assert_accessible(page)
    page.get_by_label("Concern", exact=True).check()
    page.get_by_label("Note").fill("Referred to the ED's Caldicott Guardian.")
    page.get_by_role("button", name="Record outcome").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Access-pattern alerts by organisation")
    expect(page.get_by_test_id("no-escalated-alerts")).to_be_visible()
    assert_accessible(page)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.CLOSED and alert.outcome == "concern"
    assert not csp_violations
