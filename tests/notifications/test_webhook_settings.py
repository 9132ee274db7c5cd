"""An LA admin's webhook settings: https to public addresses only, the secret shown once,
rotation with both secrets signing during the overlap, a test delivery the worker sends, and the
recent deliveries' status codes."""

import json
import re

import pytest
import redis
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from audit.models import AuditAction, AuditEvent, AuditOutcome
from notifications.models import Channel, Delivery, WebhookEndpoint
from notifications.services import delivery_attempt
from tests.notifications.checks import child_on_plan, record_check
from tests.notifications.conftest import WEBHOOK_SECRET
from tests.notifications.webhook_receiver import WebhookReceiver
from tests.notifications.worker import SHARED_BROKER_URL, broker, flush_broker

pytestmark = pytest.mark.django_db

URL = reverse("notifications:webhook_settings")


@pytest.fixture
def admin(role_user, client_for, local_authority):
    return client_for(role_user(Role.ORG_ADMIN, local_authority))


def _secret(response) -> str:
    return re.search(r'<code class="cpis-secret">([^<]+)</code>', response.content.decode()).group(1)


def test_plain_http_is_refused(admin, local_authority):
    response = admin.post(URL, {"url": "http://cms.example.gov.uk/cpis", "is_active": "on"})
    assert response.status_code == 400
    assert "The address must start with https://" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_setting_an_endpoint_shows_its_secret_once_and_audits_without_it(admin, local_authority, outbound_names):
    outbound_names.addresses["cms.example.gov.uk"] = ["151.101.1.69"]
    response = admin.post(URL, {"url": "https://cms.example.gov.uk/cpis", "is_active": "on"})
    assert response.status_code == 200
    secret = _secret(response)
    endpoint = WebhookEndpoint.objects.get(local_authority=local_authority)
    assert endpoint.secret == secret and len(secret) >= 32 and endpoint.is_active
    assert secret not in admin.get(URL).content.decode()
    event = AuditEvent.objects.get(action=AuditAction.WEBHOOK_CHANGED)
    assert secret not in str(event.detail)


def test_after_rotation_both_secrets_sign_until_the_overlap_ends(admin, local_authority, care_setting):
    receiver_old = WebhookReceiver(secret=WEBHOOK_SECRET).start()
    try:
        WebhookEndpoint.objects.create(local_authority=local_authority, url=receiver_old.url, secret=WEBHOOK_SECRET)
        new_secret = _secret(admin.post(reverse("notifications:webhook_secret_rotate")))
        assert new_secret != WEBHOOK_SECRET
        assert AuditEvent.objects.filter(action=AuditAction.WEBHOOK_SECRET_ROTATED).exists()

        record_check(plans=[child_on_plan(local_authority)], care_setting=care_setting)
        delivery_attempt(delivery_id=Delivery.objects.get(channel=Channel.WEBHOOK).pk)
        receiver_new = WebhookReceiver(secret=new_secret)
        # The receiver still on the old secret accepted it; one on the new would have too.
        request = receiver_old.requests[-1]
        assert request.valid
        assert len(request.signature.split(",")) == 2
        from notifications.webhooks import webhook_verify

        assert webhook_verify(
            secret=receiver_new.secret, timestamp=request.timestamp, signature=request.signature, body=request.body
        )
        # After the overlap, only the new secret signs.
        with time_machine.travel(timezone.now() + timezone.timedelta(hours=25)):
            assert WebhookEndpoint.objects.get().signing_secrets() == [new_secret]
    finally:
        receiver_old.stop()


def _test_row(admin) -> str:
    page = admin.get(URL).content.decode()
    return re.search(r'<tr class="nhsuk-table__row" data-testid="test-delivery">(.*?)</tr>', page, re.S).group(1)


def test_a_test_delivery_is_queued_then_shows_the_endpoints_answer_with_the_recent_deliveries(
    admin, local_authority, care_setting, django_capture_on_commit_callbacks
):
    receiver = WebhookReceiver(secret=WEBHOOK_SECRET).start()
    try:
        WebhookEndpoint.objects.create(local_authority=local_authority, url=receiver.url, secret=WEBHOOK_SECRET)
        receiver.status = 503
        with django_capture_on_commit_callbacks() as queued:
            response = admin.post(reverse("notifications:webhook_test"), follow=True)
        # The page only queued it: nothing reached the endpoint from the web request.
        assert "Test delivery queued" in response.content.decode()
        assert receiver.requests == [] and len(queued) == 1
        assert "Queued" in _test_row(admin)
        queued[0]()  # the worker's turn (tasks run eagerly in the tests)
        row = _test_row(admin)
        assert "Failed" in row and "HTTP 503" in row

        receiver.status = 200
        with django_capture_on_commit_callbacks(execute=True):
            admin.post(reverse("notifications:webhook_test"))
        row = _test_row(admin)
        assert "Sent" in row and "HTTP 200" in row
        assert receiver.requests[-1].delivery_id.startswith("test-") and receiver.requests[-1].valid
        assert json.loads(receiver.requests[-1].body)["test"] is True
        assert AuditEvent.objects.filter(action=AuditAction.WEBHOOK_TEST_SENT).count() == 2

        record_check(plans=[child_on_plan(local_authority)], care_setting=care_setting)
        receiver.status = 500
        delivery_attempt(delivery_id=Delivery.objects.get(channel=Channel.WEBHOOK).pk)
        table = admin.get(URL).content.decode()
        assert "HTTP 500" in table
    finally:
        receiver.stop()


def test_the_test_delivery_is_published_to_the_webhook_workers_queue(
    admin, local_authority, webhook_receiver, django_capture_on_commit_callbacks
):
    WebhookEndpoint.objects.create(local_authority=local_authority, url=webhook_receiver.url, secret=WEBHOOK_SECRET)
    flush_broker(SHARED_BROKER_URL)
    try:
        with broker(SHARED_BROKER_URL), django_capture_on_commit_callbacks(execute=True):
            assert admin.post(reverse("notifications:webhook_test")).status_code == 302
        [message] = redis.Redis.from_url(SHARED_BROKER_URL).lrange("deliveries-webhook", 0, -1)
        headers = json.loads(message)["headers"]
        endpoint = WebhookEndpoint.objects.get()
        assert headers["task"] == "notifications.tasks.webhook_test_send"
        assert headers["argsrepr"] == repr((endpoint.pk, endpoint.test_delivery_id))
        assert webhook_receiver.requests == []
        assert "Queued" in _test_row(admin)
    finally:
        flush_broker(SHARED_BROKER_URL)


def test_a_test_delivery_that_fails_below_http_says_only_could_not_deliver(
    admin, local_authority, django_capture_on_commit_callbacks
):
    # A receiver's address with nobody listening: the connection is refused, and that is not said.
    receiver = WebhookReceiver(secret=WEBHOOK_SECRET).start()
    receiver.stop()
    WebhookEndpoint.objects.create(local_authority=local_authority, url=receiver.url, secret=WEBHOOK_SECRET)
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(reverse("notifications:webhook_test"))
    row = _test_row(admin)
    assert "Failed" in row and "Could not deliver" in row
    page = admin.get(URL).content.decode().lower()
    assert "refused" not in page and "errno" not in page and "connecterror" not in page


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:5432/",
        "https://[::1]:6379/",
        "https://0.0.0.0/",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.5/cpis",
        "https://172.16.4.4/cpis",
        "https://192.168.0.10/cpis",
        "https://[fd00::5]/cpis",
        "https://[fe80::1]/cpis",
        "https://[::ffff:127.0.0.1]/cpis",
        "https://224.0.0.1/cpis",
        "https://localhost:8443/cpis",
        "https://internal.example.test/cpis",
    ],
)
def test_an_address_inside_the_network_is_refused_when_saved(admin, local_authority, outbound_names, url):
    outbound_names.addresses["internal.example.test"] = ["151.101.1.69", "10.20.30.40"]
    response = admin.post(URL, {"url": url, "is_active": "on"})
    assert response.status_code == 400
    assert "This address is on a private or local network" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()
    # Audited as refused (the host only), in case someone is mapping the network through the form.
    event = AuditEvent.objects.get(action=AuditAction.WEBHOOK_CHANGED)
    assert event.outcome == AuditOutcome.DENIED and event.detail["refused"] == "not_public"
    assert event.detail["host"] and set(event.detail) == {"host", "refused"}


def test_a_name_that_does_not_resolve_is_refused_when_saved(admin, local_authority):
    response = admin.post(URL, {"url": "https://no-such-host.invalid/cpis", "is_active": "on"})
    assert response.status_code == 400
    assert "No system could be found at this address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.WEBHOOK_CHANGED).exists()


def test_an_operator_cannot_save_an_address_inside_the_network_in_the_django_admin(local_authority):
    from notifications.admin import WebhookEndpointForm

    form = WebhookEndpointForm(
        {"local_authority": local_authority.pk, "url": "https://169.254.169.254/", "secret": "x" * 40}
    )
    assert not form.is_valid()
    assert "private or local network" in form.errors["url"][0]


def test_a_care_settings_admin_has_no_webhook_page(role_user, client_for, care_setting):
    assert client_for(role_user(Role.ORG_ADMIN, care_setting)).get(URL).status_code == 403
