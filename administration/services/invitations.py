"""Invitations: a link e-mailed to someone without an account, accepted once, with the roles it names."""

import logging
import secrets
import smtplib
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Invitation, Organisation, User
from accounts.services import membership_grant
from administration.services.roles import role_check_grantable
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record
from core.tokens import token_hash

logger = logging.getLogger(__name__)


class InvitationUnusable(Exception):
    """The link cannot be used: `reason` is "unknown", "expired", "used" or "cancelled"."""

    def __init__(self, reason: str, invitation: Invitation | None = None):
        super().__init__(reason)
        self.reason = reason
        self.invitation = invitation


def _invitation_email_send(*, invitation: Invitation, token: str) -> None:
    """Sends the link (after commit). The token exists nowhere else, so if the e-mail cannot be
    sent the invitation is cancelled at once and flagged for the admin to try again."""
    link = settings.SITE_URL.rstrip("/") + reverse("administration:invitation_accept", kwargs={"token": token})
    body = render_to_string(
        "emails/invitation.txt",
        {
            "invitation": invitation,
            "link": link,
            "valid_hours": settings.INVITATION_VALID_HOURS,
            "expires_at": timezone.localtime(invitation.expires_at),
        },
    )
    try:
        send_mail(
            subject="You have been invited to use CP-IS",
            message=body,
            from_email=None,
            recipient_list=[invitation.email],
        )
    except (OSError, smtplib.SMTPException):
        # The address is personal data: log the invitation's id only.
        logger.warning("Invitation %s: the e-mail could not be sent", invitation.pk, exc_info=True)
        Invitation.objects.filter(pk=invitation.pk).update(cancelled_at=timezone.now())
        invitation.email_failed = True
        audit_record(
            action=AuditAction.INVITATION_SENT,
            user=invitation.created_by,
            organisation=invitation.organisation,
            outcome=AuditOutcome.FAILURE,
            detail={"invitation_id": invitation.pk, "reason": "email_failed"},
        )


@transaction.atomic
def invitation_create(
    *,
    organisation: Organisation,
    email: str,
    full_name: str,
    roles: list[str],
    by: User,
    request: HttpRequest | None = None,
) -> Invitation:
    """Invites a person who has no account yet, by e-mail.

    1. Refuses roles that cannot be granted at this organisation and e-mails with an account.
    2. Cancels any earlier pending invitation for the same address here (one live link only).
    3. Stores the token's hash, and e-mails the token once the transaction commits.
    """
    email = email.strip().lower()
    if not roles:
        raise ValidationError("Select at least one role.", code="no_roles")
    for role in roles:
        role_check_grantable(organisation, role)
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError("This email address already has a CP-IS account.", code="existing_account")
    for earlier in Invitation.objects.pending().select_for_update().filter(organisation=organisation, email=email):
        invitation_cancel(invitation=earlier, by=by, request=request)
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    invitation = Invitation.objects.create(
        organisation=organisation,
        email=email,
        full_name=full_name.strip(),
        roles=sorted(set(roles)),
        token_hash=token_hash(token),
        created_by=by,
        created_at=now,
        expires_at=now + timedelta(hours=settings.INVITATION_VALID_HOURS),
    )
    audit_record(
        action=AuditAction.INVITATION_SENT,
        request=request,
        user=by,
        organisation=organisation,
        detail={"invitation_id": invitation.pk, "roles": invitation.roles},
    )
    transaction.on_commit(lambda: _invitation_email_send(invitation=invitation, token=token))
    return invitation


@transaction.atomic
def invitation_resend(*, invitation: Invitation, by: User, request: HttpRequest | None = None) -> Invitation:
    """A fresh link for the same person and roles (lost e-mail, expired link): the earlier link
    is cancelled by `invitation_create`, so only one works."""
    return invitation_create(
        organisation=invitation.organisation,
        email=invitation.email,
        full_name=invitation.full_name,
        roles=list(invitation.roles),
        by=by,
        request=request,
    )


def invitation_cancel(*, invitation: Invitation, by: User | None, request: HttpRequest | None = None) -> None:
    Invitation.objects.filter(pk=invitation.pk).update(cancelled_at=timezone.now())
    invitation.cancelled_at = timezone.now()
    audit_record(
        action=AuditAction.INVITATION_CANCELLED,
        request=request,
        user=by,
        organisation=invitation.organisation,
        detail={"invitation_id": invitation.pk},
    )


def invitation_usable(*, token: str, for_update: bool = False) -> Invitation:
    """The pending, unexpired invitation for `token`, or InvitationUnusable saying why not."""
    queryset = Invitation.objects.select_related("organisation")
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    invitation = queryset.filter(token_hash=token_hash(token)).first()
    if invitation is None:
        raise InvitationUnusable("unknown")
    if invitation.accepted_at is not None:
        raise InvitationUnusable("used", invitation)
    if invitation.cancelled_at is not None:
        raise InvitationUnusable("cancelled", invitation)
    if invitation.is_expired:
        raise InvitationUnusable("expired", invitation)
    return invitation


def invitation_refused_record(*, error: InvitationUnusable, request: HttpRequest | None = None) -> None:
    audit_record(
        action=AuditAction.INVITATION_REFUSED,
        request=request,
        organisation=error.invitation.organisation if error.invitation else None,
        outcome=AuditOutcome.DENIED,
        detail={"reason": error.reason, "invitation_id": error.invitation.pk if error.invitation else None},
    )


@transaction.atomic
def invitation_accept(*, token: str, full_name: str, password: str, request: HttpRequest | None = None) -> User:
    """Creates the invitee's account with the invited roles; the link is then used up.

    The invitation row is locked, so two tabs submitting the same link create one account.
    The new user still has to enrol two-factor authentication before they are signed in.
    """
    invitation = invitation_usable(token=token, for_update=True)
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise ValidationError(
            "This email address already has a CP-IS account. Sign in instead.", code="existing_account"
        )
    user = User.objects.create_user(invitation.email, password, full_name=full_name.strip())
    for role in invitation.roles:
        # Checked again: the organisation's kind or the rules may have changed since sending.
        role_check_grantable(invitation.organisation, role)
        membership_grant(
            user=user, organisation=invitation.organisation, role=role, by=invitation.created_by, request=request
        )
    invitation.accepted_at = timezone.now()
    invitation.accepted_user = user
    invitation.save(update_fields=["accepted_at", "accepted_user"])
    audit_record(
        action=AuditAction.INVITATION_ACCEPTED,
        request=request,
        user=user,
        organisation=invitation.organisation,
        detail={"invitation_id": invitation.pk, "subject_user_id": user.pk},
    )
    return user
