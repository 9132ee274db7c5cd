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
        "safeguarding_lead": user_with_role(Role.SAFEGUARDING_LEAD, care_setting),
        "social_worker": user_with_role(Role.SOCIAL_WORKER, local_authority),
        "plan_manager": user_with_role(Role.PLAN_MANAGER, local_authority),
        "org_admin": user_with_role(Role.ORG_ADMIN, local_authority),
        "national_admin": user_with_role(Role.NATIONAL_ADMIN, national),
    }


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(
    "persona", ["clinician", "safeguarding_lead", "social_worker", "plan_manager", "org_admin", "national_admin"]
)
def test_each_role_home_is_its_dashboard(signed_in_page, live_server, world, csp_violations, persona, width):
    page = signed_in_page(world[persona])
    page.set_viewport_size(WIDTHS[width])
    page.goto(live_server.url + "/")
    if persona in ("clinician", "safeguarding_lead"):
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


@pytest.mark.parametrize("width", WIDTHS)
def test_clinician_follows_checks_today_to_the_list(
    signed_in_page, live_server, world, care_setting, local_authority, csp_violations, width
):
    from attendances.services import child_check
    from tests.factories import nhs_number_for

    clinician = world["clinician"]
    plan = PlanFactory(organisation=local_authority, family_name="Brightwater")
    for nhs_number in (plan.nhs_number, nhs_number_for(4321)):
        child_check(nhs_number=nhs_number, date_of_birth=None, arrived_at=timezone.now(), user=clinician,
                    organisation=care_setting, role=Role.CLINICIAN)  # fmt: skip
    page = signed_in_page(clinician)
    page.set_viewport_size(WIDTHS[width])
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="2 checks you made today").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your checks today")
    expect(page.get_by_test_id("list-count")).to_have_text("2 checks.")
    expect(page.get_by_test_id("checks-today")).to_contain_text("Brightwater")
    expect(page.get_by_test_id("checks-today")).to_contain_text("No plan")
    assert_accessible(page)
    screenshot(page, f"checks-today-{width}")
    assert not csp_violations


def test_national_admin_follows_the_overdue_figure_to_counts_per_la(
    signed_in_page, live_server, world, local_authority, csp_violations
):
    page = signed_in_page(world["national_admin"])
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="1 notifications overdue across all local authorities").click()
    expect(page.get_by_test_id("overdue")).to_contain_text(local_authority.name)
    # Counts per local authority: no child is named to a national admin.
    expect(page.get_by_test_id("overdue")).not_to_contain_text("Latecase")
    assert_accessible(page)
    assert not csp_violations


@pytest.mark.parametrize("width", WIDTHS)
def test_org_admin_records_an_access_review_and_sees_it_on_the_dashboard(
    signed_in_page, live_server, world, csp_violations, width
):
    page = signed_in_page(world["org_admin"])
    page.set_viewport_size(WIDTHS[width])
    page.goto(live_server.url + "/")
    expect(page.get_by_test_id("figure-flag")).to_have_text("Review who has access")
    page.get_by_role("link", name="Never access review recorded").click()
    expect(page.get_by_test_id("last-review")).to_contain_text("No access review has been recorded")
    page.get_by_label("Note (optional)").fill("x" * 501)
    page.get_by_role("button", name="I have reviewed who has access").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("500 characters or fewer")
    assert_accessible(page)
    screenshot(page, f"access-review-error-{width}")
    page.get_by_label("Note (optional)").fill("Removed one leaver")
    page.get_by_role("button", name="I have reviewed who has access").click()
    expect(page.get_by_test_id("last-review")).to_contain_text(f"by {world['org_admin'].full_name}")
    expect(page.get_by_test_id("last-review")).to_contain_text("Removed one leaver")
    assert_accessible(page)
    screenshot(page, f"access-review-recorded-{width}")
    page.goto(live_server.url + "/")
    expect(page.get_by_role("link", name=f"{timezone.localdate():%-d %B %Y} last access review")).to_be_visible()
    expect(page.get_by_test_id("figure-flag")).to_have_count(0)
    screenshot(page, f"dashboard-org-admin-reviewed-{width}")
    assert not csp_violations
