"""Notifications nobody acknowledged in time: marked overdue, and the LA's admins reminded."""

import logging

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Organisation, Role, User
from notifications.models import Notification, NotificationStatus

logger = logging.getLogger(__name__)


def notifications_mark_overdue() -> dict[int, int]:
    """Marks NEW notifications past their due time as overdue, once each, and e-mails each
    LA's admins how many (no personal data). Returns {LA id: count reminded}. Run by beat.

    1. per LA, in a short transaction of its own: mark the due notifications overdue
       (`SKIP LOCKED`: a check updating one now is left for the next run) and commit;
    2. then, with nothing locked, send the LA's reminder for its overdue notifications not yet
       reminded: a mail server that never answers holds no row a clinician's check waits for;
    3. record them reminded only once the send succeeded; if it failed they wait, overdue and
       unreminded, and the next run tries again, so no LA's reminder is silently skipped.
    """
    now = timezone.now()
    due = Notification.objects.filter(
        status=NotificationStatus.NEW, overdue_since__isnull=True, due_at__lte=now, delivered_to_inbox_at__isnull=False
    )
    for la_id in sorted(set(due.values_list("local_authority_id", flat=True))):
        with transaction.atomic():
            ids = list(
                due.filter(local_authority_id=la_id).select_for_update(skip_locked=True).values_list("pk", flat=True)
            )
            Notification.objects.filter(pk__in=ids).update(overdue_since=now)

    unreminded = Notification.objects.filter(
        status=NotificationStatus.NEW, overdue_since__isnull=False, overdue_reminded_at__isnull=True
    )
    result = {}
    for la_id in sorted(set(unreminded.values_list("local_authority_id", flat=True))):
        ids = list(unreminded.filter(local_authority_id=la_id).values_list("pk", flat=True))
        try:
            _send_overdue_reminder(local_authority=Organisation.objects.get(pk=la_id), count=len(ids))
        except SoftTimeLimitExceeded:
            raise  # the task's time is up: the rest wait for the next run
        except Exception:
            # One LA's mail failure must not stop the others' reminders; this LA's waits.
            logger.exception("Overdue reminder for LA %s not sent; will try again next run", la_id)
            continue
        Notification.objects.filter(pk__in=ids, overdue_reminded_at__isnull=True).update(
            overdue_reminded_at=timezone.now()
        )
        result[la_id] = len(ids)
    return result


def _send_overdue_reminder(*, local_authority: Organisation, count: int) -> None:
    admins = list(
        User.objects.filter(is_active=True, memberships__organisation=local_authority, memberships__role=Role.ORG_ADMIN)
        .distinct()
        .values_list("email", flat=True)
    )
    recipients = admins or ([local_authority.team_mailbox] if local_authority.team_mailbox else [])
    if not recipients:
        logger.error(
            "No admin or team mailbox to remind about %d overdue notifications at LA %s", count, local_authority.pk
        )
        return
    context = {
        "count": count,
        "local_authority_name": local_authority.name,
        "inbox_url": settings.SITE_URL.rstrip("/") + reverse("notifications:inbox") + "?status=overdue",
    }
    subject = render_to_string("emails/notifications_overdue_subject.txt", context).strip()
    body = render_to_string("emails/notifications_overdue_body.txt", context)
    # One message each, so no admin learns the others' addresses.
    messages = [EmailMessage(subject=subject, body=body, to=[address]) for address in recipients]
    get_connection(fail_silently=False).send_messages(messages)
