"""Writes about users, their roles, training and sign-in; each one is audited."""

from datetime import date
from typing import cast

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import (
    CHILD_DATA_ROLES,
    ROLES_BY_KIND,
    Membership,
    Organisation,
    OrganisationKind,
    Role,
    TrainingRecord,
    User,
    UserSession,
)
from accounts.signals import user_deactivated
from audit.models import AuditAction
from audit.services import audit_record

BACKUP_CODE_COUNT = 10


def four_eyes_check(*, user: User, by: User | None, what: str) -> None:
    """Refuses an act that would let one person alone reach child data (SPEC 1 "Four eyes").

    Whoever asks — the service's pages, the Django admin, a shell — a role that shows child
    data, a training record or a second-factor reset needs a second person.
    """
    if by is not None and user.pk == by.pk:
        raise ValidationError(f"You cannot {what} yourself. Ask another administrator.", code="four_eyes")


@transaction.atomic
def membership_grant(
    *, user: User, organisation: Organisation, role: str, by: User | None, request: HttpRequest | None = None
) -> Membership:
    if role in CHILD_DATA_ROLES:
        four_eyes_check(user=user, by=by, what="give a role that shows child data to")
    if role not in ROLES_BY_KIND[OrganisationKind(organisation.kind)]:
        raise ValidationError(f"The role {role} does not exist at a {organisation.get_kind_display().lower()}.")
    membership, created = Membership.objects.get_or_create(
        user=user, organisation=organisation, role=role, defaults={"granted_by": by}
    )
    if created:
        audit_record(
            action=AuditAction.ROLE_GRANTED,
            request=request,
            user=by,
            organisation=organisation,
            detail={"subject_user_id": user.pk, "role": role},
        )
    return membership


def membership_is_last_admin(membership: Membership, *, lock: bool = False) -> bool:
    """Whether removing this role would leave its organisation with no active administrator.

    With `lock`, the organisation's admin memberships stay locked until commit, so two removals
    at once cannot both see "one more left".
    """
    if membership.role != Role.ORG_ADMIN or not membership.user.is_active:
        return False
    admins = Membership.objects.filter(organisation_id=membership.organisation_id, role=Role.ORG_ADMIN)
    if lock:
        admins = admins.select_for_update()
    return sum(1 for active in admins.values_list("user__is_active", flat=True) if active) <= 1


@transaction.atomic
def membership_revoke(*, membership: Membership, by: User | None, request: HttpRequest | None = None) -> None:
    """Removes one role; never the last active administrator of an organisation (whoever asks:
    the service's pages or the Django admin)."""
    if membership_is_last_admin(membership, lock=True):
        raise ValidationError(
            f"{membership.user.full_name} is the last administrator of {membership.organisation.name}. "
            "Appoint another administrator first.",
            code="last_admin",
        )
    audit_record(
        action=AuditAction.ROLE_REMOVED,
        request=request,
        user=by,
        organisation=membership.organisation,
        detail={"subject_user_id": membership.user_id, "role": membership.role},
    )
    membership.delete()


@transaction.atomic
def training_record(
    *, user: User, course: str, completed_on: date, by: User | None, request: HttpRequest | None = None
) -> TrainingRecord:
    four_eyes_check(user=user, by=by, what="record training for")
    record = TrainingRecord.objects.create(user=user, course=course, completed_on=completed_on, recorded_by=by)
    audit_record(
        action=AuditAction.TRAINING_RECORDED,
        request=request,
        user=by,
        detail={"subject_user_id": user.pk, "expires_on": record.expires_on.isoformat()},
    )
    return record


@transaction.atomic
def user_deactivate(*, user: User, by: User | None, request: HttpRequest | None = None) -> None:
    """Deactivates the account and ends every session and API token it has, at once.

    Tokens are revoked, not merely unusable while the account is inactive: a reactivated
    account starts without them (its owner issues new ones), so a token copied before the
    deactivation never works again.
    """
    user.is_active = False
    user.save(update_fields=["is_active"])
    UserSession.objects.filter(user=user).delete()
    # The API tokens: fhir, above accounts, revokes them (fhir/apps.py).
    # Each receiver returns the count it ended (accounts/signals.py); the stubs type a
    # receiver's result as `str | None`.
    revoked = sum(cast(int, count) for _, count in user_deactivated.send(sender=User, user=user))
    audit_record(
        action=AuditAction.USER_DEACTIVATED,
        request=request,
        user=by,
        detail={"subject_user_id": user.pk, "api_tokens_revoked": revoked},
    )


@transaction.atomic
def user_reactivate(*, user: User, by: User | None, request: HttpRequest | None = None) -> None:
    user.is_active = True
    user.save(update_fields=["is_active"])
    audit_record(action=AuditAction.USER_REACTIVATED, request=request, user=by, detail={"subject_user_id": user.pk})


def totp_device_for_enrolment(*, user: User) -> TOTPDevice:
    """The unconfirmed authenticator the user is enrolling; one at a time."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


@transaction.atomic
def totp_enrolment_confirm(*, device: TOTPDevice, request: HttpRequest | None = None) -> list[str]:
    """Confirms the authenticator and issues fresh single-use backup codes (returned once)."""
    TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    StaticDevice.objects.filter(user=device.user).delete()
    backup = StaticDevice.objects.create(user=device.user, name="Backup codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=backup, token=c) for c in codes])
    audit_record(action=AuditAction.OTP_ENROLLED, request=request, user=device.user)
    return codes
