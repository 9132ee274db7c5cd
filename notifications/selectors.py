"""Reads for the notifications' pages beyond the one object an access helper opens."""

from accounts.models import Organisation
from notifications.models import Channel, Delivery, NotificationQuerySet, WebhookEndpoint


def inbox_care_settings(*, received: NotificationQuerySet) -> list[tuple[int, str]]:
    """The care settings an LA has heard from, (id, name) by name, for the inbox's filter.

    First their ids, from the LA's own notifications (the inbox index, about a thousand rows),
    then their names: as one query PostgreSQL probes the notifications once for every
    organisation in the country.
    """
    setting_ids = set(received.order_by().values_list("care_setting_id", flat=True).distinct())
    return list(Organisation.objects.filter(pk__in=setting_ids).order_by("name").values_list("pk", "name"))


def webhook_endpoint_of(*, local_authority: Organisation) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(local_authority=local_authority).first()


def webhook_deliveries_recent(*, local_authority: Organisation, limit: int) -> list[Delivery]:
    """The LA's latest webhook deliveries, for its settings page: outcomes only, no child data."""
    return list(
        Delivery.objects.filter(channel=Channel.WEBHOOK, notification__local_authority=local_authority)
        .only("pk", "notification_id", "status", "attempts", "created_at", "sent_at", "response_status", "last_error")
        .order_by("-created_at", "-id")[:limit]
    )
