"""Implementation progress pages in Chromium at desktop and 390 px, axe clean, photographed."""

import pytest
from playwright.sync_api import expect

from accounts.models import Organisation, Region, Role
from tests.browser.conftest import assert_accessible, screenshot
from tests.factories import user_with_role

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("width", WIDTHS)
def test_progress_pages(
    page, signed_in_page, live_server, care_setting, local_authority, national, csp_violations, width
):
    Organisation.objects.filter(pk=local_authority.pk).update(region=Region.NORTH_WEST)
    Organisation.objects.filter(pk=care_setting.pk).update(region=Region.LONDON)
    page.set_viewport_size(WIDTHS[width])
    page.goto(live_server.url + "/reports/implementation-progress/")
    expect(page.get_by_test_id("progress-counts")).to_contain_text("Local authority")
    expect(page.get_by_test_id("progress-regions")).to_contain_text("North West")
    expect(page.get_by_test_id("progress-regions")).to_contain_text("London")
    assert_accessible(page)
    screenshot(page, f"progress-public-{width}")

    signed_in_page(user_with_role(Role.NATIONAL_ADMIN, national))
    page.goto(live_server.url + "/reports/implementation-progress/organisations/")
    expect(page.get_by_test_id("progress-organisations")).to_contain_text(local_authority.name)
    assert_accessible(page)
    screenshot(page, f"progress-organisations-{width}")
    page.get_by_label("Region").select_option(label="London")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("progress-organisations")).to_contain_text(care_setting.name)
    expect(page.get_by_test_id("progress-organisations")).not_to_contain_text(local_authority.name)
    assert_accessible(page)
    screenshot(page, f"progress-organisations-london-{width}")

    page.goto(live_server.url + "/admin/organisations/")
    page.get_by_label("Region").select_option(label="North West")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_test_id("organisations-table")).to_contain_text(local_authority.name)
    expect(page.get_by_test_id("organisations-table")).not_to_contain_text(care_setting.name)
    assert_accessible(page)
    screenshot(page, f"organisations-by-region-{width}")
    page.goto(live_server.url + f"/admin/organisations/{local_authority.pk}/edit/")
    expect(page.get_by_label("Region")).to_have_value("north_west")
    assert_accessible(page)
    screenshot(page, f"organisation-form-region-{width}")

    page.context.clear_cookies()
    signed_in_page(user_with_role(Role.ORG_ADMIN, local_authority))
    page.goto(live_server.url + "/reports/go-live/")
    expect(page.get_by_test_id("go-live-steps")).to_contain_text("trained social worker")
    assert_accessible(page)
    screenshot(page, f"go-live-{width}")
    assert not csp_violations
