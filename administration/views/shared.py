"""What every administration page shares: the admin roles, and auditing refused actions."""

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError

from accounts.models import Role
from accounts.requests import CpisRequest
from audit.models import AuditOutcome
from audit.services import audit_record

if TYPE_CHECKING:
    from accounts.models import User

ADMINS = (Role.ORG_ADMIN, Role.NATIONAL_ADMIN)
EMAIL_FAILED_TEXT = "We could not send the invitation email, so it has been cancelled. Try again in a few minutes."


def form_status(form) -> int:
    return 400 if form.errors else 200


def refusal_record(
    request: CpisRequest, *, action: str, reason: str, organisation=None, subject: "User | None" = None, **detail
):
    """Audits an admin action the rules refused (a denied attempt is as telling as a success).

    The reason is a code, never the message, which may hold a person's name.
    """
    audit_record(
        action=action,
        request=request,
        organisation=organisation,
        outcome=AuditOutcome.DENIED,
        detail={"reason": reason, **({"subject_user_id": subject.pk} if subject else {}), **detail},
    )


def refusal_reason(error: ValidationError) -> str:
    return next((e.code for e in error.error_list if e.code), "refused")


def role_refused(form, field: str) -> bool:
    """True when the form refused a role the admin may not grant (as opposed to a typo)."""
    return any(e.code == "invalid_choice" for e in form.errors.as_data().get(field, []))


def search_query(request: CpisRequest, *, limit: int = 100) -> str:
    """The list pages' `q`: trimmed, bounded, and with control characters (NUL among them, which
    PostgreSQL refuses in text) dropped, so no typed or pasted search can fail the page."""
    typed = request.GET.get("q", "")
    return "".join(ch for ch in typed if ch.isprintable()).strip()[:limit]
