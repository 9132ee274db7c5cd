"""Each role's home page in Chromium, desktop and 390 px: the figures, the header navigation,
axe clean, photographed; and a figure followed to its list."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from notifications.models import Notification
from tests.browser.conftest import assert_accessible, screenshot
from tests.factories import PlanFactory, user_with_role
from tests.notifications.checks import inbox_notification

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def world(care_setting, local_authority, national):
    PlanFactory(organisation=local_authority)
    PlanFactory(organisation=local_authority, looked_after=True)
    late = inbox_notification(local_authority, care_setting, family_name="Latecase")
    Notification.objects.filter(pk=late.pk).update(overdue_since=timezone.now())
    inbox_notification(local_authority, care_setting)
    return {
        "clinician": user_with_role(Role.CLINICIAN, care_setting),
        "social_worker": user_with_role(Role.SOCIAL_WORKER, local_authority),
        "plan_manager": user_with_role(Role.PLAN_MANAGER, local_authority),
        "org_admin": user_with_role(Role.ORG_ADMIN, local_authority),
        "national_admin": user_with_role(Role.NATIONAL_ADMIN, national),
    }


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("persona", ["clinician", "social_worker", "plan_manager", "org_admin", "national_admin"])
def test_each_role_home_is_its_dashboard(signed_in_page, live_server, world, csp_violations, persona, width):
    page = signed_in_page(world[persona])
    page.set_viewport_size(WIDTHS[width])
    page.goto(live_server.url + "/")
    if persona == "clinician":
        expect(page.get_by_label("NHS number")).to_be_focused()
    else:
        expect(page.get_by_test_id("dashboard-figures").first).to_be_visible()
    assert_accessible(page)
    screenshot(page, f"dashboard-{persona}-{width}")
    assert not csp_violations


def test_social_worker_follows_the_overdue_figure_to_the_list(signed_in_page, live_server, world, csp_violations):
    page = signed_in_page(world["social_worker"])
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="1 overdue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Overdue notifications")
    expect(page.get_by_test_id("inbox-table")).to_contain_text("Latecase")
    assert not csp_violations
