"""An LA admin's own webhook settings: the endpoint (https only), the secret's rotation with an
overlap in which both secrets sign, and a signed test delivery. Each change is audited; the
secret is shown once, when made, and never logged or audited."""

import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Organisation
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record
from notifications.models import WebhookEndpoint
from notifications.webhooks import WebhookError, webhook_body, webhook_post


def webhook_secret_new() -> str:
    return secrets.token_urlsafe(32)


def webhook_endpoint_save(
    *, local_authority: Organisation, url: str, is_active: bool, request
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


def webhook_secret_rotate(*, endpoint: WebhookEndpoint, request) -> str:
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


def webhook_test_send(*, endpoint: WebhookEndpoint, request) -> tuple[bool, str]:
    """POSTs a signed test payload, as a real delivery is signed (no child data); returns
    (accepted, what happened)."""
    delivery_id = f"test-{uuid.uuid4()}"
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
        accepted, outcome = True, f"Your endpoint answered HTTP {status}."
    except WebhookError as exc:
        status = exc.status
        accepted, outcome = False, f"The test delivery failed: {exc}."
    audit_record(
        action=AuditAction.WEBHOOK_TEST_SENT,
        request=request,
        outcome=AuditOutcome.SUCCESS if accepted else AuditOutcome.FAILURE,
        detail={"delivery_id": delivery_id, "status": status},
    )
    return accepted, outcome
