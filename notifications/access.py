"""Who may see which notification or delivery: one helper per object type, scoped to the
user's current organisation. Anything outside it is a 404, so ids reveal nothing."""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from accounts.models import Role
from accounts.requests import OrganisationRequest
from notifications.models import Delivery, Notification, NotificationQuerySet


def notifications_in_inbox(request: OrganisationRequest) -> NotificationQuerySet:
    """Every notification in the inbox of the user's current organisation (the inbox's list)."""
    return Notification.objects.in_inbox_of(request.organisation)


def access_notification_by_social_worker(request: OrganisationRequest, notification_id: int) -> Notification:
    notification = (
        Notification.objects.in_inbox_of(request.organisation)
        .select_related("care_setting", "local_authority", "assigned_to", "acknowledged_by")
        .filter(pk=notification_id)
        .first()
    )
    if notification is None:
        raise Http404("No such notification")
    return notification


def deliveries_visible_to_admin(request: OrganisationRequest) -> QuerySet[Delivery]:
    """National admins see every LA's deliveries; an LA's admins see their own LA's.
    Neither sees child data: the failures page shows ids, channels and errors only."""
    if Role.NATIONAL_ADMIN in request.roles:
        return Delivery.objects.all()
    if Role.ORG_ADMIN in request.roles:
        # A care setting's admin has no deliveries of its own: the list is simply empty.
        return Delivery.objects.filter(notification__local_authority=request.organisation)
    raise PermissionDenied


def access_delivery_by_admin(request: OrganisationRequest, delivery_id: int) -> Delivery:
    delivery = deliveries_visible_to_admin(request).filter(pk=delivery_id).first()
    if delivery is None:
        raise Http404("No such delivery")
    return delivery
