"""An LA's handling of a notification in its inbox: assigning it and acknowledging it."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Organisation, Role, User
from audit.models import AuditAction
from audit.services import audit_record
from notifications.models import Notification, NotificationStatus


def social_workers_of(local_authority: Organisation) -> list[User]:
    """Who a notification can be assigned to: the LA's active social workers, by name."""
    return list(
        User.objects.filter(
            is_active=True,
            memberships__organisation=local_authority,
            memberships__role=Role.SOCIAL_WORKER,
        )
        .distinct()
        .order_by("full_name", "pk")
    )


def notification_assign(*, notification: Notification, user: User, request: HttpRequest) -> None:
    if not user.memberships.filter(organisation_id=notification.local_authority_id, role=Role.SOCIAL_WORKER).exists():
        # The view offers only the LA's social workers; this stops a forged id all the same.
        raise PermissionDenied("A notification is assigned only to a social worker of its local authority.")
    with transaction.atomic():
        Notification.objects.filter(pk=notification.pk).update(assigned_to=user)
        audit_record(
            action=AuditAction.NOTIFICATION_ASSIGNED,
            request=request,
            nhs_number=notification.nhs_number,
            detail={"notification_id": notification.pk, "assigned_to": user.pk},
        )
    notification.assigned_to = user


def notification_acknowledge(*, notification: Notification, user: User, note: str, request: HttpRequest) -> bool:
    """Acknowledges a NEW notification with a note; False if someone already had (a double
    submit, or a colleague first), in which case nothing changes."""
    now = timezone.now()
    with transaction.atomic():
        done = Notification.objects.filter(pk=notification.pk, status=NotificationStatus.NEW).update(
            status=NotificationStatus.ACKNOWLEDGED,
            acknowledged_by=user,
            acknowledged_at=now,
            acknowledgement_note=note,
        )
        if done:
            audit_record(
                action=AuditAction.NOTIFICATION_ACKNOWLEDGED,
                request=request,
                nhs_number=notification.nhs_number,
                detail={"notification_id": notification.pk},
            )
    notification.refresh_from_db()
    return bool(done)
