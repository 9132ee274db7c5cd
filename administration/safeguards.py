"""Automatic safeguards, run daily by beat (tasks.py): training-expiry reminders and locking
unused accounts. The third safeguard needs no task: the trained-user gate reads the training
expiry on every request, so an expired record blocks child data at once."""

from datetime import date, datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import BigIntegerField, Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import TrainingRecord, User
from accounts.services import user_deactivate
from audit.models import AuditAction, AuditEvent
from audit.services import audit_record


def training_expiry_reminders_send(*, today: date | None = None) -> int:
    """E-mails each active user whose latest training expires within TRAINING_REMINDER_DAYS.

    One reminder per training record: the audit log says which records were reminded, so a
    missed beat run catches up the next day and a repeated run sends nothing twice.
    """
    today = today or timezone.localdate()
    horizon = today + timedelta(days=settings.TRAINING_REMINDER_DAYS)
    reminded = (
        AuditEvent.objects.filter(action=AuditAction.TRAINING_REMINDER_SENT)
        .annotate(record_id=Cast(KeyTextTransform("training_record_id", "detail"), BigIntegerField()))
        .values("record_id")
    )
    candidates = (
        TrainingRecord.objects.filter(user__is_active=True, expires_on__gte=today, expires_on__lte=horizon)
        .exclude(pk__in=reminded)
        .select_related("user")
        .order_by("user_id", "-expires_on")
    )
    sent = 0
    for record in candidates:
        # A newer record (renewed training) makes the reminder pointless.
        if record.user.training_records.filter(expires_on__gt=record.expires_on).exists():
            continue
        with transaction.atomic():
            # System actions have no actor; whom they concern is in the detail.
            audit_record(
                action=AuditAction.TRAINING_REMINDER_SENT,
                detail={"training_record_id": record.pk, "subject_user_id": record.user_id},
            )
            body = render_to_string(
                "emails/training_reminder.txt",
                {"user": record.user, "record": record, "site_url": settings.SITE_URL},
            )
            transaction.on_commit(
                partial(
                    send_mail,
                    subject="Your CP-IS training expires soon",
                    message=body,
                    from_email=None,
                    recipient_list=[record.user.email],
                )
            )
        sent += 1
    return sent


def unused_accounts_lock(*, now: datetime | None = None) -> int:
    """Deactivates accounts not used for ACCOUNT_UNUSED_LOCK_DAYS (never signed in: since joining).

    Deactivation ends their sessions; an org admin can reactivate them from the user's page.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.ACCOUNT_UNUSED_LOCK_DAYS)
    # An admin who reactivates a locked account gives it a fresh period to be used in;
    # without this the next run would lock it again before its owner could sign in.
    recently_reactivated = (
        AuditEvent.objects.filter(action=AuditAction.USER_REACTIVATED, occurred_at__gte=cutoff)
        .annotate(subject_id=Cast(KeyTextTransform("subject_user_id", "detail"), BigIntegerField()))
        .values("subject_id")
    )
    stale = (
        User.objects.filter(is_active=True)
        .filter(Q(last_login__lt=cutoff) | Q(last_login__isnull=True, date_joined__lt=cutoff))
        .exclude(pk__in=recently_reactivated)
    )
    locked = 0
    for user in stale:
        with transaction.atomic():
            user_deactivate(user=user, by=None)
            audit_record(
                action=AuditAction.ACCOUNT_LOCKED,
                detail={"subject_user_id": user.pk, "unused_days": settings.ACCOUNT_UNUSED_LOCK_DAYS},
            )
        locked += 1
    return locked
