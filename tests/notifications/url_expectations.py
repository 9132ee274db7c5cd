"""Who may use the inbox and the failed-deliveries page (see tests/url_permissions.py)."""

from notifications.models import Channel, Delivery, DeliveryStatus
from tests.url_permissions import Expect, World


def _notification(world: World, local_authority):
    from tests.notifications.checks import inbox_notification

    cache = world.__dict__.setdefault("_notifications", {})
    if local_authority.pk not in cache:
        cache[local_authority.pk] = inbox_notification(local_authority, world.care_setting)
    return cache[local_authority.pk]


def _notification_kwargs(world: World, persona: str, own: bool) -> dict:
    return {"notification_id": _notification(world, world.la if own else world.other_la).pk}


def _failed_delivery_kwargs(world: World, persona: str, own: bool) -> dict:
    notification = _notification(world, world.la if own else world.other_la)
    delivery = Delivery.objects.get(notification=notification, channel=Channel.EMAIL)
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, last_error="test")
    return {"delivery_id": delivery.pk}


SOCIAL_WORKER_ONLY = {"social_worker": 200}
# Admins of the LA and national admins; a care setting's admin sees an empty list.
ADMINS = {"la_admin": 200, "setting_admin": 200, "national_admin": 200}

EXPECTATIONS = [
    Expect("notifications:inbox", statuses=SOCIAL_WORKER_ONLY),
    Expect(
        "notifications:notification_detail",
        statuses=SOCIAL_WORKER_ONLY,
        kwargs=_notification_kwargs,
        other_statuses={"social_worker": 404},
        other_default=403,
    ),
    Expect(
        "notifications:notification_assign",
        method="post",
        statuses={"social_worker": 302},
        kwargs=_notification_kwargs,
        other_statuses={"social_worker": 404},
        other_default=403,
    ),
    Expect(
        "notifications:notification_acknowledge",
        method="post",
        data={"note": "Discussed with the duty team."},
        statuses={"social_worker": 302},
        kwargs=_notification_kwargs,
        other_statuses={"social_worker": 404},
        other_default=403,
    ),
    Expect("notifications:deliveries_failed", statuses=ADMINS),
    Expect(
        "notifications:delivery_retry",
        method="post",
        statuses={"la_admin": 302, "national_admin": 302, "setting_admin": 404},
        kwargs=_failed_delivery_kwargs,
        other_statuses={"la_admin": 404, "national_admin": 302, "setting_admin": 404},
        other_default=403,
    ),
]

# An LA's own admins only (a care setting has no webhook).
EXPECTATIONS += [
    Expect("notifications:webhook_settings", statuses={"la_admin": 200}),
    Expect("notifications:webhook_secret_rotate", statuses={"la_admin": 302}, method="post"),
    Expect("notifications:webhook_test", statuses={"la_admin": 302}, method="post"),
]

# For GOV.UK Notify's servers: without its bearer token, a refusal (audited) whoever asks.
EXPECTATIONS += [Expect("notifications:notify_receipt", method="post", anonymous=401, default=401)]
