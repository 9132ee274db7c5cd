"""Help pages and the alert's print view in Chromium, desktop and 390 px."""

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from tests.browser.conftest import SCREENSHOTS, assert_accessible, screenshot
from tests.factories import PlanFactory

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("slug", ["help", "glossary", "accessibility", "privacy", "cookies"])
def test_guidance_pages_read_well(page, live_server, csp_violations, slug, width):
    page.set_viewport_size(WIDTHS[width])
    page.goto(live_server.url + f"/guidance/{slug}/")
    expect(page.get_by_role("contentinfo").get_by_role("link", name="Glossary")).to_be_visible()
    assert_accessible(page)
    screenshot(page, f"guidance-{slug}-{width}")
    assert not csp_violations


def test_the_alert_prints_without_the_navigation_and_with_who_printed_it(
    signed_in_page, live_server, role_user, local_authority, csp_violations
):
    plan = PlanFactory(organisation=local_authority)
    page = signed_in_page(role_user(Role.CLINICIAN))
    page.goto(live_server.url + "/check/")
    page.get_by_label("NHS number").fill(plan.nhs_number)
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_test_id("alert-guidance")).to_be_visible()
    expect(page.get_by_test_id("printed")).to_be_hidden()
    assert_accessible(page)

    page.emulate_media(media="print")
    expect(page.get_by_test_id("printed")).to_be_visible()
    expect(page.get_by_role("button", name="Check another child")).to_be_hidden()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.pdf(path=str(SCREENSHOTS / "alert-print.pdf"))
    screenshot(page, "alert-print-media")
    assert not csp_violations
