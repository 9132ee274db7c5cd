"""E-mails about a person's own account, sent by the worker (accounts/tasks.py) after commit.

The notifications app's outbox sits above accounts (docs/adr/ADR-010-layout.md) and is for the
local authorities' notifications; these go as Celery tasks queued after commit, as the other
apps' background work does. The request never talks to the mail relay.
"""

import logging
import smtplib
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import User
from core.formatting import datetime_format
from cpis.resilience import broker_publish

logger = logging.getLogger(__name__)

# What happened to the person's passkeys, for the e-mail that tells them.
PASSKEY_CHANGES = {
    "added": "A passkey was added to your CP-IS account",
    "removed": "A passkey was removed from your CP-IS account",
    "removed_with_password_change": "Your passkeys were removed from your CP-IS account",
    "removed_by_reset": "Your CP-IS two-factor authentication was reset",
}


def task_queue(task: Any, *args: Any) -> None:
    """Publishes `task` with `args` (ids only); call it from `transaction.on_commit`.

    Through the broker's breaker (cpis/resilience.py): a broker that is down never fails the
    page nor holds it past one socket timeout, and the e-mail is then not sent (logged there).
    """
    broker_publish(task, args)


def passkey_change_notify(*, user: User, change: str, count: int = 1) -> None:
    """Queues, after commit, the e-mail telling `user` their passkeys changed (`change`)."""
    from accounts.tasks import passkey_change_email_send

    user_id, at = user.pk, timezone.now().isoformat()
    transaction.on_commit(lambda: task_queue(passkey_change_email_send, user_id, change, count, at), robust=True)


def passkey_change_email_send(*, user_id: int, change: str, count: int, at: str) -> None:
    """The e-mail itself (the worker's job): the person's name and when, nothing else about them."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or change not in PASSKEY_CHANGES:
        return
    body = render_to_string(
        "emails/passkeys_changed.txt",
        {
            "name": user.full_name,
            "change": change,
            "count": count,
            "when": datetime_format(datetime.fromisoformat(at)),
            "site_url": settings.SITE_URL,
        },
    )
    try:
        send_mail(subject=PASSKEY_CHANGES[change], message=body, from_email=None, recipient_list=[user.email])
    except (OSError, smtplib.SMTPException):
        logger.warning("Passkey e-mail for user %s could not be sent", user.pk, exc_info=True)
