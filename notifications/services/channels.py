"""The delivery channels: how a claimed delivery reaches the LA, one class per channel.

Each channel is registered under its `Channel` value; `delivery.py` asks the registry for a
delivery's channel, never tests the channel's name itself. A new channel is a class here (and a
value in `Channel`, a branch in the outbox's choice of channels per LA, `outbox.py`, and a
queue `deliveries-<channel>` in the settings).
"""

from datetime import datetime
from typing import Any, ClassVar

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import Organisation
from mesh.formats import ANSWER_FORMAT
from mesh.models import MeshMailbox
from mesh.services import MeshSendFailed, mesh_notification_send
from notifications.models import Channel, Delivery, Notification, WebhookEndpoint
from notifications.webhooks import WebhookError, webhook_body, webhook_post


class DeliveryChannel:
    """What every channel does. `send` raises on failure (the attempt is retried, then failed);
    `delivered` runs in the transaction that marks the delivery SENT, and only if this claim
    finished it, so it happens once however often the message is redelivered."""

    channel: ClassVar[Channel]
    # Whether one claim takes the LA's other due deliveries on this channel too, so one message
    # carries them all (the e-mail's "N new notifications").
    batches: ClassVar[bool] = False

    def send(self, *, delivery: Delivery, ids: list[int]) -> int | None:
        """Sends the claimed delivery (or batch `ids`); returns an HTTP status where there is one."""
        raise NotImplementedError

    def delivered(self, *, delivery: Delivery, now: datetime) -> None:
        """After the finishing UPDATE: whatever else being delivered means for this channel."""


class InboxChannel(DeliveryChannel):
    channel = Channel.INBOX

    def send(self, *, delivery: Delivery, ids: list[int]) -> int | None:
        return None  # delivered by the finishing transaction itself, see `delivered`

    def delivered(self, *, delivery: Delivery, now: datetime) -> None:
        # Only the claim that finished the row delivers it: idempotent under redelivery.
        Notification.objects.filter(pk=delivery.notification_id, delivered_to_inbox_at__isnull=True).update(
            delivered_to_inbox_at=now
        )


class EmailChannel(DeliveryChannel):
    channel = Channel.EMAIL
    batches = True

    def send(self, *, delivery: Delivery, ids: list[int]) -> int | None:
        # Before the send: Notify's receipt (its reference is the batch's first id) may come
        # back before this claim finishes, and must find every delivery the e-mail carried.
        Delivery.objects.filter(pk__in=ids).update(email_batch=ids[0], receipt_status="", receipt_at=None)
        _send_email(local_authority=delivery.notification.local_authority, count=len(ids), delivery_ids=ids)
        return None


class WebhookChannel(DeliveryChannel):
    channel = Channel.WEBHOOK

    def send(self, *, delivery: Delivery, ids: list[int]) -> int | None:
        notification = delivery.notification
        endpoint = WebhookEndpoint.objects.filter(local_authority_id=notification.local_authority_id).first()
        if endpoint is None or not endpoint.is_active:
            raise WebhookError("the LA has no active webhook endpoint")
        body = webhook_body(webhook_payload(notification=notification, delivery_id=delivery.pk))
        secrets = endpoint.signing_secrets()
        return webhook_post(
            url=endpoint.url,
            secret=secrets[0],
            previous_secret=secrets[1] if len(secrets) > 1 else "",
            delivery_id=delivery.pk,
            body=body,
        )


class MeshChannel(DeliveryChannel):
    """To the LA's MESH mailbox, as JSON (docs/la-interface.md): the webhook's content."""

    channel = Channel.MESH

    def send(self, *, delivery: Delivery, ids: list[int]) -> int | None:
        notification = delivery.notification
        mailbox = MeshMailbox.objects.filter(local_authority_id=notification.local_authority_id).first()
        if mailbox is None:
            raise MeshSendFailed("the LA has no MESH mailbox")
        body = ANSWER_FORMAT.notification(webhook_payload(notification=notification, delivery_id=delivery.pk))
        mesh_notification_send(
            delivery_id=delivery.pk,
            local_authority_id=notification.local_authority_id,
            recipient=mailbox.mailbox_id,
            body=body,
        )
        return None


_REGISTRY: dict[str, DeliveryChannel] = {
    channel.channel: channel for channel in (InboxChannel(), EmailChannel(), WebhookChannel(), MeshChannel())
}


def delivery_channel(name: str) -> DeliveryChannel:
    """The channel a delivery row names; KeyError for a name no class is registered for."""
    return _REGISTRY[name]


def _send_email(*, local_authority: Organisation, count: int, delivery_ids: list[int]) -> None:
    context = {
        "count": count,
        "local_authority_name": local_authority.name,
        "inbox_url": settings.SITE_URL.rstrip("/") + reverse("notifications:inbox"),
    }
    subject = render_to_string("emails/notifications_new_subject.txt", context).strip()
    body = render_to_string("emails/notifications_new_body.txt", context)
    message = EmailMessage(
        subject=subject,
        body=body,
        to=[local_authority.team_mailbox],
        # Ids only (no personal data): lets support trace a message back to its outbox rows.
        # Comma and space, so the header folds into lines of 78: a batch of 200 ids joined by
        # commas alone is one line past SMTP's 998-character limit, which servers refuse.
        headers={"X-CPIS-Deliveries": ", ".join(str(i) for i in delivery_ids)},
    )
    message.send(fail_silently=False)


def webhook_payload(*, notification: Notification, delivery_id: int) -> dict[str, Any]:
    """The webhook's JSON: the LA's own case-management system gets the full content. An
    Inactive NHS Number notification has no care setting or checker: `inactive` says why."""
    setting = notification.care_setting
    payload: dict[str, Any] = {
        "delivery_id": delivery_id,
        "notification_id": notification.pk,
        "kind": notification.kind,
        "local_authority_ods_code": notification.local_authority.ods_code,
        "child": {
            "nhs_number": notification.nhs_number,
            "family_name": notification.family_name,
            "given_names": notification.given_names,
            "date_of_birth": notification.date_of_birth.isoformat(),
        },
        "plan_types": notification.plan_type_list,
        "first_attended_at": notification.first_attended_at.isoformat(),
        "last_attended_at": notification.last_attended_at.isoformat(),
        "attendance_count": notification.attendance_count,
        "care_setting": None,
        "checked_by": None,
    }
    if setting is None:
        payload["inactive"] = {
            "reason": notification.inactive_reason,
            "replacement_nhs_number": notification.replacement_nhs_number,
        }
        return payload
    payload["care_setting"] = {
        "name": setting.name,
        "ods_code": setting.ods_code,
        "type": setting.setting_type,
        "phone": setting.phone,
    }
    payload["checked_by"] = {"name": notification.checked_by_name, "role": notification.checked_by_role}
    return payload
