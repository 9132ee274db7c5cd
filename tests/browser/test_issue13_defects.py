"""The defects the browser walk found (issue 13), walked again in Chromium at desktop width and
on a 390 px phone, each page checked with axe and photographed."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from tests.browser.conftest import assert_accessible, screenshot
from tests.factories import PlanFactory, VisitFactory, user_with_role
from tests.notifications.checks import inbox_notification

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("width", WIDTHS)
def test_clinician_sees_the_open_plan_first_and_confirms_a_late_arrival(
    signed_in_page, live_server, role_user, care_setting, local_authority, csp_violations, width
):
    page = signed_in_page(role_user(Role.CLINICIAN))
    page.set_viewport_size(WIDTHS[width])
    child = PlanFactory(organisation=local_authority, given_names="Mia", family_name="Hughes")
    PlanFactory(organisation=local_authority, nhs_number=child.nhs_number, date_of_birth=child.date_of_birth,
                looked_after=True, ended=True, start_date=timezone.localdate() - dt.timedelta(days=900))  # fmt: skip
    now = timezone.now()
    for minutes in (600, 560):
        VisitFactory(
            nhs_number=child.nhs_number, care_setting=care_setting, arrived_at=now - dt.timedelta(minutes=minutes)
        )

    page.goto(live_server.url + "/")
    # The header's navigation leads to the check.
    if width == "desktop":
        page.get_by_role("navigation", name="Menu").get_by_role("link", name="Check a child").click()
    else:
        page.goto(live_server.url + "/check/")
    page.get_by_label("NHS number").fill(child.nhs_number)
    late = timezone.localtime(now - dt.timedelta(hours=13))
    page.get_by_label("Arrival time (optional)").fill(f"{late:%H:%M}")
    page.get_by_role("button", name="Check").click()

    expect(page.locator(".nhsuk-error-summary")).to_contain_text("13 hours ago")
    assert_accessible(page)
    screenshot(page, f"issue13-arrival-confirm-{width}")
    page.get_by_label("Yes, the child arrived on").check()
    page.get_by_role("button", name="Check").click()

    expect(page.get_by_test_id("alert-heading")).to_have_text(
        "Child Protection Plan (open) and Looked After Child (ended)"
    )
    expect(page.get_by_test_id("arrival-recorded")).to_contain_text(f"{late:%H:%M}")
    expect(page.get_by_test_id("episode")).to_have_count(1)
    expect(page.get_by_test_id("visits")).to_contain_text("Checked again 1 time")
    assert_accessible(page)
    screenshot(page, f"issue13-alert-{width}")
    assert not csp_violations


@pytest.mark.parametrize("width", WIDTHS)
def test_social_worker_sees_who_each_notification_is_about_and_assigns_a_colleague(
    signed_in_page, live_server, care_setting, local_authority, csp_violations, width
):
    from attendances.services import child_check
    from notifications.models import Channel, Delivery, Notification
    from notifications.services import delivery_attempt

    worker = user_with_role(Role.SOCIAL_WORKER, local_authority)
    colleague = user_with_role(Role.SOCIAL_WORKER, local_authority)
    colleague.full_name = "Priya Colleague"
    colleague.save()
    inbox_notification(local_authority, care_setting, given_names="Sam", family_name="Smith")
    doubtful = PlanFactory(organisation=local_authority, given_names="Sam", family_name="Smith, jr")
    child_check(nhs_number=doubtful.nhs_number, date_of_birth=doubtful.date_of_birth - dt.timedelta(days=400),
                arrived_at=timezone.now(), user=user_with_role(Role.CLINICIAN, care_setting),
                organisation=care_setting, role=Role.CLINICIAN)  # fmt: skip
    notification = Notification.objects.get(nhs_number=doubtful.nhs_number)
    delivery_attempt(delivery_id=Delivery.objects.get(notification=notification, channel=Channel.INBOX).pk)

    page = signed_in_page(worker)
    page.set_viewport_size(WIDTHS[width])
    page.goto(live_server.url + "/inbox/")
    table = page.get_by_test_id("inbox-table")
    number = doubtful.nhs_number
    expect(table).to_contain_text(f"{number[:3]} {number[3:6]} {number[6:]}")
    expect(table).to_contain_text("Date of birth differs")
    assert_accessible(page)
    screenshot(page, f"issue13-inbox-{width}")

    page.get_by_role("link", name="Sam Smith, jr").click()
    expect(page.get_by_test_id("dob-mismatch")).to_be_visible()
    page.get_by_label("Assign to a colleague").select_option(label="Priya Colleague")
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.get_by_test_id("assigned-to")).to_contain_text("Priya Colleague")
    assert_accessible(page)
    screenshot(page, f"issue13-notification-{width}")

    page.get_by_role("link", name="See this child's plans and visit history").click()
    page.get_by_role("link", name="Back to the notification").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sam Smith, jr")
    assert not csp_violations


@pytest.mark.parametrize("width", WIDTHS)
def test_plan_manager_adds_a_plan_with_the_date_input_and_a_name_with_punctuation(
    signed_in_page, live_server, role_user, local_authority, csp_violations, width
):
    page = signed_in_page(role_user(Role.PLAN_MANAGER))
    page.set_viewport_size(WIDTHS[width])
    page.goto(live_server.url + "/plans/new/")
    page.get_by_label("NHS number").fill("943 476 5919")
    page.get_by_label("Family name").fill("Kowalska/Nowak")
    page.get_by_label("Given names").fill("Zofia")
    born = page.get_by_role("group", name="Date of birth")
    born.get_by_label("Day").fill("31")
    born.get_by_label("Month").fill("2")
    born.get_by_label("Year").fill("2019")
    page.get_by_label("Child Protection Plan", exact=True).check()
    start = page.get_by_role("group", name="Start date")
    start.get_by_label("Day").fill("1")
    start.get_by_label("Month").fill("9")
    start.get_by_label("Year").fill("2025")
    page.get_by_role("button", name="Add plan").click()

    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Date of birth must be a real date")
    assert_accessible(page)
    screenshot(page, f"issue13-plan-form-error-{width}")
    page.get_by_role("group", name="Date of birth").get_by_label("Day").fill("28")
    page.get_by_role("button", name="Add plan").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("KOWALSKA/NOWAK, Zofia")
    expect(page.locator(".nhsuk-tag--blue", has_text="Open")).to_be_visible()
    assert_accessible(page)
    screenshot(page, f"issue13-plan-detail-{width}")
    assert not csp_violations


@pytest.mark.parametrize("width", WIDTHS)
def test_plan_manager_sees_which_children_an_upload_changes(
    signed_in_page, live_server, role_user, local_authority, csp_violations, tmp_path, width
):
    from tests.plans.helpers import csv_bytes, days_ago, row

    held = PlanFactory(organisation=local_authority, given_names="Ending", family_name="Held")
    path = tmp_path / "plans.csv"
    path.write_bytes(
        csv_bytes(
            [
                row(
                    1,
                    nhs_number=held.nhs_number,
                    given_names="Ending",
                    family_name="Held",
                    date_of_birth=held.date_of_birth.isoformat(),
                    start_date=held.start_date.isoformat(),
                    end_date=days_ago(1),
                ),
                row(2, given_names="Zofia", family_name="Kowalska/Nowak"),
                row(3, start_date="31/02/2026", given_names="Ada", family_name="Byron"),
            ]
        )  # fmt: skip
    )
    page = signed_in_page(role_user(Role.PLAN_MANAGER))
    page.set_viewport_size(WIDTHS[width])
    page.goto(live_server.url + "/plans/uploads/")
    page.get_by_label("Upload a CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and check").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Check the upload")
    changes = page.get_by_test_id("preview-changes")
    expect(changes).to_contain_text("Ending Held")
    expect(changes).to_contain_text("Zofia Kowalska/Nowak")
    expect(page.get_by_test_id("rejected-rows")).to_contain_text("Ada Byron")
    assert_accessible(page)
    screenshot(page, f"issue13-upload-preview-{width}")
    assert not csp_violations
