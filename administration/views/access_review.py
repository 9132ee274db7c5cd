"""The access review: users, roles, last sign-in, 2FA and training, for one organisation."""

from datetime import timedelta
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.access import role_required
from accounts.models import ACCESS_REVIEW_DUE_DAYS, Role
from accounts.requests import CpisRequest, OrganisationRequest
from administration.access import access_organisation_by_admin
from administration.forms import AccessReviewForm
from administration.selectors import access_review_last, review_rows
from administration.services import access_review_record
from administration.views.shared import ADMINS, refusal_reason, refusal_record
from audit.models import AuditAction
from audit.services import audit_record
from core.confirmations import confirmation_mark, confirmation_take
from core.csv_cells import csv_response

if TYPE_CHECKING:
    from accounts.models import Organisation


def _training_expiring(row: dict) -> bool:
    today = timezone.localdate()
    expires = row["training_expires"]
    return bool(expires and today <= expires <= today + timedelta(days=30))


# The dashboard's figures open these (`?show=`): each keeps the rows its figure counted.
SHOWN = {
    "active": ("active users", lambda r: r["user"].is_active),
    "training_expiring": (
        "active users whose training expires in the next 30 days",
        lambda r: r["user"].is_active and _training_expiring(r),
    ),
    "no_two_factor": (
        "active users without two-factor authentication",
        lambda r: r["user"].is_active and not r["two_factor"],
    ),
}


def rows_shown(request: CpisRequest, rows: list[dict]) -> tuple[list[dict], str]:
    """The rows the `show` filter keeps, and its words ("" for everyone, or an unknown filter)."""
    label, keep = SHOWN.get(request.GET.get("show", ""), ("", None))
    return ([r for r in rows if keep(r)] if keep else rows), label


def may_record_review(request: CpisRequest, organisation: "Organisation") -> bool:
    return Role.ORG_ADMIN in request.roles and organisation == request.organisation


def _review_page(request: CpisRequest, organisation: "Organisation", *, form=None, status: int = 200):
    rows, shown = rows_shown(request, review_rows(organisation))
    may_record = may_record_review(request, organisation)
    last_review = access_review_last(organisation)
    return render(
        request,
        "administration/access_review.jinja",
        {
            "organisation": organisation,
            "rows": rows,
            "shown": shown,
            "last_review": last_review,
            # Only on the page the recording leads to, and only for the review just recorded.
            "just_recorded": request.method == "GET"
            and last_review is not None
            and confirmation_take(request.session, "access_review", last_review.pk),
            "next_due": timezone.localdate(last_review.reviewed_at) + timedelta(days=ACCESS_REVIEW_DUE_DAYS)
            if last_review
            else None,
            "form": (form or AccessReviewForm()) if may_record else None,
        },
        status=status,
    )


@role_required(*ADMINS)
def access_review(request: OrganisationRequest, organisation_id: int):
    return _review_page(request, access_organisation_by_admin(request, organisation_id))


@role_required(Role.ORG_ADMIN)
@require_POST
def access_review_record_view(request: OrganisationRequest, organisation_id: int):
    """Records "I have reviewed who has access", only for the organisation the admin works for."""
    organisation = access_organisation_by_admin(request, organisation_id)
    if not may_record_review(request, organisation):
        raise Http404
    form = AccessReviewForm(request.POST)
    if form.is_valid():
        try:
            review = access_review_record(
                organisation=organisation, by=request.user, note=form.cleaned_data["note"], request=request
            )
        except ValidationError as error:
            refusal_record(
                request,
                action=AuditAction.ACCESS_REVIEW_RECORDED,
                reason=refusal_reason(error),
                organisation=organisation,
            )
            form.add_error(None, error)
        else:
            confirmation_mark(request.session, "access_review", review.pk)
            return redirect("administration:access_review", organisation_id=organisation.pk)
    return _review_page(request, organisation, form=form, status=400)


@role_required(*ADMINS)
def access_review_csv(request: OrganisationRequest, organisation_id: int):
    organisation = access_organisation_by_admin(request, organisation_id)
    rows = review_rows(organisation)
    audit_record(
        action=AuditAction.ACCESS_REVIEW_EXPORTED,
        request=request,
        organisation=organisation,
        detail={"organisation_id": organisation.pk, "rows": len(rows)},
    )

    def fmt(value) -> str:
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""

    return csv_response(
        f"access-review-{organisation.ods_code}-{timezone.localdate():%Y%m%d}.csv",
        ["name", "email", "roles", "account", "last_sign_in", "two_factor", "training_expires", "training_current"],
        (
            [
                r["user"].full_name,
                r["user"].email,
                "; ".join(r["roles"]),
                "active" if r["user"].is_active else "deactivated",
                fmt(r["last_login"]),
                "enrolled" if r["two_factor"] else "not enrolled",
                r["training_expires"].isoformat() if r["training_expires"] else "",
                "yes" if r["training_current"] else "no",
            ]
            for r in rows
        ),
    )
