"""Journeys of the operators' pages: a national admin's service health and an LA admin's
delivery and webhook pages, with the worker stopped and a webhook endpoint failing."""

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from cpis.health import HEARTBEAT_KEY
from notifications.models import Channel, Delivery, DeliveryStatus, WebhookEndpoint
from tests.browser.conftest import assert_accessible, screenshot
from tests.notifications.checks import child_on_plan, record_check
from tests.notifications.conftest import WEBHOOK_SECRET
from tests.notifications.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def failing_webhook(local_authority, care_setting):
    """A worker that has stopped (no heartbeat), an LA whose endpoint answers 503: one delivery
    failed after its last retry, two checks' deliveries still waiting."""
    receiver = WebhookReceiver(secret=WEBHOOK_SECRET, status=503).start()
    WebhookEndpoint.objects.create(local_authority=local_authority, url=receiver.url, secret=WEBHOOK_SECRET)
    for _ in range(3):
        record_check(plans=[child_on_plan(local_authority)], care_setting=care_setting)
    # In tests tasks run at commit: everything was delivered. Put the state back to a stopped
    # worker's: the last check's deliveries waiting, and the first webhook failed for good.
    last = Delivery.objects.order_by("-id")[:3]
    Delivery.objects.filter(pk__in=[d.pk for d in last]).update(status=DeliveryStatus.PENDING, sent_at=None)
    Delivery.objects.filter(channel=Channel.WEBHOOK).exclude(pk__in=[d.pk for d in last]).update(
        status=DeliveryStatus.FAILED,
        failed_at=timezone.now(),
        attempts=10,
        response_status=503,
        last_error="WebhookError: could not deliver (HTTP 503)",
    )
    cache.delete(HEARTBEAT_KEY)
    yield receiver
    receiver.stop()


def test_national_admin_sees_a_stopped_worker_and_a_failing_webhook(
    signed_in_page, live_server, role_user, failing_webhook, csp_violations
):
    page = signed_in_page(role_user(Role.NATIONAL_ADMIN))
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Service health").first.click()
    expect(page).to_have_title("Service health – CP-IS")
    worker = page.get_by_test_id("worker")
    expect(worker).to_contain_text("Not running")
    expect(worker).to_contain_text("No heartbeat received")
    webhook_row = page.get_by_test_id("channels").get_by_role("row", name="Case-management webhook")
    expect(webhook_row).to_contain_text("failed")
    expect(page.get_by_test_id("periodic-tasks")).to_contain_text("Late")
    # The refresh controls appear only with the script.
    expect(page.get_by_role("button", name="Stop updating")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "service-health")

    page.get_by_role("link", name="failed deliveries and try them again").click()
    expect(page).to_have_title("Failed notification deliveries – CP-IS")
    assert not csp_violations


def test_la_admin_sees_their_deliveries_and_fixes_their_webhook(
    signed_in_page, live_server, role_user, local_authority, failing_webhook, csp_violations
):
    page = signed_in_page(role_user(Role.ORG_ADMIN, local_authority))
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Notification delivery").first.click()
    expect(page).to_have_title("Notification delivery – CP-IS")
    expect(page.get_by_test_id("worker")).to_contain_text("Not running")
    expect(page.get_by_test_id("channels").get_by_role("row", name="In-app inbox")).to_contain_text("1")
    assert_accessible(page)
    screenshot(page, "la-deliveries")

    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Webhook to your case-management system").first.click()
    expect(page).to_have_title("Webhook to your case-management system – CP-IS")
    expect(page.get_by_test_id("recent-webhook-deliveries")).to_contain_text("HTTP 503")
    page.get_by_role("button", name="Send a test delivery").click()
    expect(page.get_by_role("region", name="Important")).to_contain_text("Test delivery queued")
    # Sent by the worker (tasks run at commit in the tests), shown with the recent deliveries.
    expect(page.get_by_test_id("test-delivery")).to_contain_text("Failed")
    expect(page.get_by_test_id("test-delivery")).to_contain_text("HTTP 503")
    assert_accessible(page)
    screenshot(page, "webhook-settings-failing")

    # The endpoint is fixed; the admin rotates the secret and tests again.
    failing_webhook.status = 200
    page.get_by_role("button", name="Rotate the secret").click()
    expect(page.get_by_test_id("new-secret")).to_contain_text("will not be shown again")
    page.get_by_role("button", name="Send a test delivery").click()
    expect(page.get_by_test_id("test-delivery")).to_contain_text("Sent")
    expect(page.get_by_test_id("test-delivery")).to_contain_text("HTTP 200")
    assert_accessible(page)
    screenshot(page, "webhook-settings-rotated")

    page.get_by_label("Endpoint address").fill("http://insecure.example.gov.uk/cpis")
    page.get_by_role("button", name="Save webhook settings").click()
    expect(page).to_have_title("Error: Webhook to your case-management system – CP-IS")
    expect(page.get_by_role("alert")).to_contain_text("must start with https://")
    assert_accessible(page)
    screenshot(page, "webhook-settings-error")

    page.get_by_label("Endpoint address").fill("https://169.254.169.254/latest/meta-data/")
    page.get_by_role("button", name="Save webhook settings").click()
    expect(page.get_by_role("alert")).to_contain_text("private or local network")
    assert not csp_violations
