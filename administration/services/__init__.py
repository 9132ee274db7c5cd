"""Writes of access administration: invitations, roles, two-factor resets, organisations.

Each write is audited. Every rule that protects an organisation (no national_admin from these
pages, never remove the last org admin, never act on a user who also works elsewhere) lives
here, not in the views, so the Django admin and the beat tasks cannot bypass it.
"""

import logging
import secrets
import smtplib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts.account_emails import passkey_change_notify
from accounts.models import (
    ROLES_BY_KIND,
    AccessReview,
    Invitation,
    Membership,
    Organisation,
    OrganisationKind,
    Role,
    User,
    UserSession,
)
from accounts.services import (
    four_eyes_check,
    membership_grant,
    membership_is_last_admin,
    membership_revoke,
    user_deactivate,
    user_reactivate,
)
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record
from core.tokens import token_hash

logger = logging.getLogger(__name__)

# national_admin is appointed by operators (Django admin or manage.py), never from these pages:
# one org admin must not be able to make anyone, themselves included, a national admin.
GRANTABLE_ROLES = frozenset(Role) - {Role.NATIONAL_ADMIN}


def grantable_roles(organisation: Organisation) -> list[str]:
    """The roles an administrator may grant at `organisation`, in a stable order."""
    allowed = ROLES_BY_KIND[OrganisationKind(organisation.kind)] & GRANTABLE_ROLES
    return [r for r in Role if r in allowed]


def _check_grantable(organisation: Organisation, role: str) -> None:
    if role not in grantable_roles(organisation):
        raise ValidationError(f"You cannot grant the role {role} at {organisation.name}.", code="role_not_grantable")


# ---------------------------------------------------------------------------------------------
# Invitations


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
        _check_grantable(organisation, role)
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
        _check_grantable(invitation.organisation, role)
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


# ---------------------------------------------------------------------------------------------
# Roles, deactivation and two-factor resets of one organisation's users


def user_works_elsewhere(*, user: User, organisation: Organisation) -> bool:
    return Membership.objects.filter(user=user).exclude(organisation=organisation).exists()


def _refuse_if_shared(*, user: User, organisation: Organisation, what: str) -> None:
    # Deactivation and 2FA are account-wide: an org admin doing either to someone who also works
    # for another organisation would be acting on that organisation's user.
    if user_works_elsewhere(user=user, organisation=organisation):
        raise ValidationError(
            f"{user.full_name} also works for another organisation, so you cannot {what}. "
            "Remove their roles here instead, or ask the CP-IS service desk.",
            code="shared_user",
        )


@transaction.atomic
def role_grant(
    *, user: User, organisation: Organisation, role: str, by: User, request: HttpRequest | None = None
) -> Membership:
    _check_grantable(organisation, role)
    return membership_grant(user=user, organisation=organisation, role=role, by=by, request=request)


@transaction.atomic
def role_remove(*, membership: Membership, by: User, request: HttpRequest | None = None) -> None:
    """Removes one role; never the last active org admin of an organisation (`membership_revoke`
    refuses that), and never national admin from these pages."""
    if membership.role == Role.NATIONAL_ADMIN:
        raise ValidationError("National administrators are removed by the CP-IS operators.", code="role_not_grantable")
    membership_revoke(membership=membership, by=by, request=request)


@transaction.atomic
def user_deactivate_at(*, user: User, organisation: Organisation, by: User, request: HttpRequest | None = None) -> None:
    """Deactivates a user of `organisation` (ending their sessions), with the admin's checks."""
    if user == by:
        raise ValidationError("You cannot deactivate your own account.", code="own_account")
    _refuse_if_shared(user=user, organisation=organisation, what="deactivate their account")
    admin_role = (
        Membership.objects.filter(user=user, organisation=organisation, role=Role.ORG_ADMIN)
        .select_related("user")
        .first()
    )
    if admin_role is not None and membership_is_last_admin(admin_role, lock=True):
        raise ValidationError(f"{user.full_name} is the last administrator of {organisation.name}.", code="last_admin")
    user_deactivate(user=user, by=by, request=request)


@transaction.atomic
def user_reactivate_at(*, user: User, organisation: Organisation, by: User, request: HttpRequest | None = None) -> None:
    _refuse_if_shared(user=user, organisation=organisation, what="reactivate their account")
    user_reactivate(user=user, by=by, request=request)


@transaction.atomic
def two_factor_reset(*, user: User, organisation: Organisation, by: User, request: HttpRequest | None = None) -> None:
    """Removes the user's authenticator, backup codes and passkeys and ends their sessions.

    Their next sign-in, after the password, goes to enrolment (a lost or replaced phone: a
    passkey may be on it too).
    """
    four_eyes_check(user=user, by=by, what="reset the two-factor authentication of")
    _refuse_if_shared(user=user, organisation=organisation, what="reset their two-factor authentication")
    totp_deleted, _ = TOTPDevice.objects.filter(user=user).delete()
    static_deleted, _ = StaticDevice.objects.filter(user=user).delete()
    # Counted without their attestation rows, which go with them.
    passkeys_deleted = WebAuthnCredential.objects.filter(user=user).delete()[1].get(WebAuthnCredential._meta.label, 0)
    UserSession.objects.filter(user=user).delete()
    audit_record(
        action=AuditAction.OTP_RESET,
        request=request,
        user=by,
        organisation=organisation,
        detail={
            "subject_user_id": user.pk,
            "devices_removed": totp_deleted + static_deleted + passkeys_deleted,
            "passkeys_removed": passkeys_deleted,
        },
    )
    if passkeys_deleted:
        # As for any passkey removed: the owner hears of it (a reset they did not ask for).
        passkey_change_notify(user=user, change="removed_by_reset", count=passkeys_deleted)


# ---------------------------------------------------------------------------------------------
# National administration: organisations and their administrators


ORGANISATION_FIELDS = (
    "ods_code",
    "name",
    "kind",
    "setting_type",
    "region",
    "phone",
    "office_hours_phone",
    "emergency_duty_phone",
    "team_mailbox",
)


@transaction.atomic
def organisation_create(*, fields: dict[str, Any], by: User, request: HttpRequest | None = None) -> Organisation:
    organisation = Organisation.objects.create(**{f: fields.get(f, "") for f in ORGANISATION_FIELDS})
    audit_record(
        action=AuditAction.ORGANISATION_CREATED,
        request=request,
        user=by,
        organisation=organisation,
        detail={"organisation_id": organisation.pk, "ods_code": organisation.ods_code},
    )
    return organisation


@transaction.atomic
def organisation_update(
    *, organisation: Organisation, fields: dict[str, Any], by: User, request: HttpRequest | None = None
) -> list[str]:
    """Applies the changed fields; returns their names (nothing is written or audited if none)."""
    changed = [f for f in fields if f in (*ORGANISATION_FIELDS, "is_active") and getattr(organisation, f) != fields[f]]
    if not changed:
        return []
    for f in changed:
        setattr(organisation, f, fields[f])
    organisation.full_clean()
    organisation.save(update_fields=changed)
    audit_record(
        action=AuditAction.ORGANISATION_UPDATED,
        request=request,
        user=by,
        organisation=organisation,
        detail={"organisation_id": organisation.pk, "fields": changed},
    )
    return changed


@dataclass
class AppointResult:
    membership: Membership | None = None
    invitation: Invitation | None = None


@transaction.atomic
def org_admin_appoint(
    *, organisation: Organisation, email: str, full_name: str, by: User, request: HttpRequest | None = None
) -> AppointResult:
    """Makes someone an org admin: an existing account gets the role, anyone else an invitation."""
    existing = User.objects.filter(email__iexact=email.strip()).first()
    if existing is not None:
        if not existing.is_active:
            raise ValidationError(
                f"The account for {existing.email} is deactivated. Ask its organisation first.",
                code="deactivated_account",
            )
        return AppointResult(
            membership=role_grant(user=existing, organisation=organisation, role=Role.ORG_ADMIN, by=by, request=request)
        )
    return AppointResult(
        invitation=invitation_create(
            organisation=organisation, email=email, full_name=full_name, roles=[Role.ORG_ADMIN], by=by, request=request
        )
    )


# ---------------------------------------------------------------------------------------------
# Access reviews


@transaction.atomic
def access_review_record(
    *, organisation: Organisation, by: User, note: str = "", request: HttpRequest | None = None
) -> AccessReview:
    """Records that `by` reviewed who has access to `organisation`, and audits it.

    Only an org admin of that organisation may: a review vouches for people the reviewer manages,
    so a national admin (who reads every organisation's review) records none for them.
    """
    if not Membership.objects.filter(user=by, organisation=organisation, role=Role.ORG_ADMIN).exists():
        raise ValidationError(
            "Only an administrator of this organisation can record its access review.", code="not_org_admin"
        )
    listed = Membership.objects.filter(organisation=organisation).values("user_id").distinct().count()
    review = AccessReview.objects.create(
        organisation=organisation, reviewed_by=by, reviewed_by_name=by.full_name, note=note, users_listed=listed
    )
    audit_record(
        action=AuditAction.ACCESS_REVIEW_RECORDED,
        request=request,
        user=by,
        organisation=organisation,
        # Not the note: it is free text and may name people.
        detail={"organisation_id": organisation.pk, "access_review_id": review.pk, "users": listed},
    )
    return review
