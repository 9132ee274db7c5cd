"""An LA admin's own webhook settings: the endpoint (https only, public addresses only), the
secret's rotation with an overlap in which both secrets sign, and a signed test delivery, which
the worker sends. Each change is audited; the secret is shown once, when made, and never logged
or audited."""

import secrets
import uuid
from datetime import timedelta
from functools import partial
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Organisation
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record
from core.background import run_in_background
from cpis.resilience import broker_publish
from notifications.models import WebhookEndpoint
from notifications.webhooks import WebhookError, webhook_body, webhook_post


def webhook_secret_new() -> str:
    return secrets.token_urlsafe(32)


def webhook_endpoint_save(
    *, local_authority: Organisation, url: str, is_active: bool, request: HttpRequest
) -> tuple[WebhookEndpoint, str | None]:
    """Creates or changes the LA's endpoint; returns it and, if it was created, its new secret
    (to show once)."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().filter(local_authority=local_authority).first()
        new_secret = None
        if endpoint is None:
            new_secret = webhook_secret_new()
            endpoint = WebhookEndpoint.objects.create(
                local_authority=local_authority, url=url, is_active=is_active, secret=new_secret
            )
        else:
            endpoint.url, endpoint.is_active = url, is_active
            endpoint.save(update_fields=["url", "is_active"])
        audit_record(
            action=AuditAction.WEBHOOK_CHANGED,
            request=request,
            detail={"url": url, "active": is_active, "created": new_secret is not None},
        )
    return endpoint, new_secret


def webhook_address_refuse(*, url: str, request: HttpRequest) -> None:
    """Audits an address refused because it is inside the network: one such attempt may be a
    mistake, several look like someone mapping our network through the form (ADR-011)."""
    audit_record(
        action=AuditAction.WEBHOOK_CHANGED,
        request=request,
        outcome=AuditOutcome.DENIED,
        # The host only: an address can carry a user name and password.
        detail={"host": (urlsplit(url).hostname or "")[:255], "refused": "not_public"},
    )


def webhook_secret_rotate(*, endpoint: WebhookEndpoint, request: HttpRequest) -> str:
    """A new secret signs from now; the old one signs too for NOTIFICATION_WEBHOOK_SECRET_OVERLAP_HOURS."""
    until = timezone.now() + timedelta(hours=settings.NOTIFICATION_WEBHOOK_SECRET_OVERLAP_HOURS)
    new_secret = webhook_secret_new()
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            previous_secret=endpoint.secret, previous_secret_until=until, secret=new_secret
        )
        audit_record(
            action=AuditAction.WEBHOOK_SECRET_ROTATED,
            request=request,
            detail={"previous_secret_valid_until": until.isoformat()},
        )
    endpoint.refresh_from_db()
    return new_secret


def webhook_test_queue(*, endpoint: WebhookEndpoint, request: HttpRequest) -> str:
    """Asks the worker to send a signed test delivery; returns its delivery id.

    The web process never connects to the endpoint: an address the admin typed is reached only
    from the worker's webhook pool, so a slow or hostile endpoint holds no web worker, and what
    the admin sees is the delivery's status (docs/adr/ADR-011-guarded-outbound-requests.md).
    A newer test replaces one still queued.
    """
    delivery_id = f"test-{uuid.uuid4()}"
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            test_delivery_id=delivery_id,
            test_requested_at=timezone.now(),
            test_finished_at=None,
            test_accepted=None,
            test_response_status=None,
        )
        audit_record(action=AuditAction.WEBHOOK_TEST_SENT, request=request, detail={"delivery_id": delivery_id})
        transaction.on_commit(partial(_test_hand_over, endpoint_id=endpoint.pk, delivery_id=delivery_id), robust=True)
    return delivery_id


def _test_hand_over(*, endpoint_id: int, delivery_id: str) -> None:
    from notifications.tasks import webhook_test_send as task

    if not run_in_background(task, endpoint_id, delivery_id, publish=broker_publish):
        # Nothing sweeps tests up later: say it failed, and the admin can ask again.
        WebhookEndpoint.objects.filter(pk=endpoint_id, test_delivery_id=delivery_id).update(
            test_finished_at=timezone.now(), test_accepted=False
        )


def webhook_test_send(*, endpoint_id: int, delivery_id: str) -> None:
    """The worker's half: POSTs the signed test payload (no child data), as a real delivery is
    signed, and records the answer, unless a newer test replaced this one or it was sent."""
    endpoint = (
        WebhookEndpoint.objects.select_related("local_authority")
        .filter(pk=endpoint_id, test_delivery_id=delivery_id, test_finished_at__isnull=True)
        .first()
    )
    if endpoint is None:
        return
    body = webhook_body(
        {"test": True, "delivery_id": delivery_id, "local_authority_ods_code": endpoint.local_authority.ods_code}
    )
    keys = endpoint.signing_secrets()
    status: int | None
    try:
        status = webhook_post(
            url=endpoint.url,
            secret=keys[0],
            previous_secret=keys[1] if len(keys) > 1 else "",
            delivery_id=delivery_id,
            body=body,
        )
        accepted = True
    except WebhookError as exc:
        status, accepted = exc.status, False
    WebhookEndpoint.objects.filter(pk=endpoint_id, test_delivery_id=delivery_id).update(
        test_finished_at=timezone.now(), test_accepted=accepted, test_response_status=status
    )
