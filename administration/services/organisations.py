"""National administration: organisations and their administrators."""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from accounts.models import Invitation, Membership, Organisation, Role, User
from administration.services.invitations import invitation_create
from administration.services.users import role_grant
from audit.models import AuditAction
from audit.services import audit_record

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
