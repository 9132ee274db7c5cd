"""One organisation's users: roles, deactivation and two-factor resets, never of a user another
organisation shares (those are account-wide)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts.account_emails import passkey_change_notify
from accounts.models import Membership, Organisation, Role, User, UserSession
from accounts.services import (
    four_eyes_check,
    membership_grant,
    membership_is_last_admin,
    membership_revoke,
    user_deactivate,
    user_reactivate,
)
from administration.services.roles import role_check_grantable
from audit.models import AuditAction
from audit.services import audit_record


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
    role_check_grantable(organisation, role)
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
