import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from notifications.models import Notification, NotificationStatus
from tests.browser.conftest import assert_accessible, screenshot
from tests.notifications.checks import child_on_plan, record_check

pytestmark = pytest.mark.django_db(transaction=True)


def test_clinicians_check_reaches_the_social_worker_who_acknowledges_it(
    signed_in_page, live_server, role_user, care_setting, local_authority, csp_violations
):
    clinician = role_user(Role.CLINICIAN)
    social_worker = role_user(Role.SOCIAL_WORKER)
    plan = child_on_plan(local_authority, family_name="Quibbleworth", given_names="Tallulah")
    # The clinician's check (tasks run in-process in tests, so delivery happens at commit).
    record_check(plans=[plan], care_setting=care_setting, user=clinician)

    page = signed_in_page(social_worker)
    page.goto(live_server.url + "/")
    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Notifications").click()
    expect(page).to_have_title("New notifications – CP-IS")
    row = page.get_by_test_id("inbox-table").get_by_role("row", name="Tallulah Quibbleworth")
    expect(row).to_contain_text("Northshire General ED")
    expect(row).to_contain_text("New")
    assert_accessible(page)
    screenshot(page, "inbox")

    row.get_by_role("link", name="Tallulah Quibbleworth").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Tallulah Quibbleworth")
    expect(page.locator("main")).to_contain_text(clinician.full_name)
    page.get_by_role("button", name="Assign to me").click()
    expect(page.get_by_test_id("assigned-to")).to_contain_text(social_worker.full_name)
    assert_accessible(page)
    screenshot(page, "inbox-notification")

    page.get_by_role("button", name="Acknowledge").click()
    expect(page).to_have_title("Error: Attendance notification – CP-IS")
    expect(page.get_by_role("alert")).to_contain_text("Enter a note saying what has been done")
    assert_accessible(page)
    screenshot(page, "inbox-acknowledge-error")

    page.get_by_label("What has been done").fill("Spoke to the ED nurse in charge; duty social worker visiting today.")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("main")).to_contain_text("Notification acknowledged.")
    expect(page.locator("main")).to_contain_text("duty social worker visiting today")
    assert_accessible(page)
    screenshot(page, "inbox-acknowledged")

    notification = Notification.objects.get()
    assert notification.status == NotificationStatus.ACKNOWLEDGED
    assert notification.acknowledged_by == social_worker
    assert not csp_violations


def test_la_admin_sees_a_failed_delivery_and_tries_it_again(
    signed_in_page, live_server, role_user, care_setting, local_authority, csp_violations
):
    from notifications.models import Channel, Delivery, DeliveryStatus

    record_check(plans=[child_on_plan(local_authority)], care_setting=care_setting)
    failed = Delivery.objects.get(channel=Channel.EMAIL)
    Delivery.objects.filter(pk=failed.pk).update(
        status=DeliveryStatus.FAILED,
        attempts=10,
        failed_at=timezone.now(),
        last_error="SMTPServerDisconnected: Connection unexpectedly closed",
    )

    page = signed_in_page(role_user(Role.ORG_ADMIN, local_authority))
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Failed notification deliveries").first.click()
    expect(page.get_by_test_id("failed-deliveries")).to_contain_text("SMTPServerDisconnected")
    assert_accessible(page)
    screenshot(page, "deliveries-failed")

    page.get_by_role("button", name=f"Try delivery {failed.pk} again").click()
    expect(page.locator("main")).to_contain_text(f"Delivery {failed.pk} will be tried again now.")
    expect(page.get_by_test_id("no-failures")).to_be_visible()
    assert_accessible(page)
    failed.refresh_from_db()
    assert failed.status == DeliveryStatus.SENT
    assert not csp_violations
