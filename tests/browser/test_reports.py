"""Reports in Chromium at desktop and 390 px: charts drawn, axe clean, no CSP violation."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from plans.models import PlanUpload, UploadStatus
from tests.browser.conftest import assert_accessible, screenshot
from tests.factories import user_with_role
from tests.notifications.checks import inbox_notification

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("who", ["la_admin", "national_admin"])
def test_admin_reads_the_report(
    signed_in_page, live_server, local_authority, care_setting, national, csp_violations, who, width
):
    for _ in range(3):
        inbox_notification(local_authority, care_setting)
    PlanUpload.objects.create(organisation=local_authority, filename="a.csv", status=UploadStatus.APPLIED,
                              applied_at=timezone.now(), counts={"rows": 100, "accepted": 97})  # fmt: skip
    user = (
        user_with_role(Role.ORG_ADMIN, local_authority)
        if who == "la_admin"
        else user_with_role(Role.NATIONAL_ADMIN, national)
    )
    page = signed_in_page(user)
    page.set_viewport_size(WIDTHS[width])
    page.goto(live_server.url + "/")
    page.goto(live_server.url + "/reports/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Reports")
    expect(page.locator("svg[role=img]").first).to_be_visible()
    # The weekly trend: its table (13 weeks of the default 12-week range, cut at both ends) and
    # a chart per figure.
    expect(page.get_by_test_id("trend-table").locator("tbody tr")).to_have_count(13)
    expect(page.get_by_test_id("chart-notifications-per-week")).to_be_visible()
    expect(page.get_by_test_id("chart-median-hours-per-week")).to_be_visible()
    if who == "national_admin":
        expect(page.get_by_test_id("chart-checks-per-week")).to_be_visible()
    page.get_by_text("the numbers").first.click()
    assert_accessible(page)
    screenshot(page, f"reports-{who}-{width}")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download this report as CSV").click()
    assert download.value.suggested_filename.startswith("cpis-report-")
    assert not csp_violations
