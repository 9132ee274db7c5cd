"""The access review: users, roles, last sign-in, 2FA and training, for one organisation."""

from django.db.models import Max
from django.shortcuts import render
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.access import role_required
from accounts.models import Organisation, User
from administration.access import (
    access_organisation_by_admin,
    users_of,
)
from administration.views.shared import ADMINS
from audit.models import AuditAction
from audit.services import audit_record
from core.csv_cells import csv_response


def review_rows(organisation: Organisation) -> list[dict]:
    """One row per user of `organisation`, in three queries whatever the number of users."""
    users = list(users_of(organisation))
    ids = [u.pk for u in users]
    enrolled = set(TOTPDevice.objects.filter(user_id__in=ids, confirmed=True).values_list("user_id", flat=True))
    expiry = dict(
        User.objects.filter(pk__in=ids)
        .annotate(expires=Max("training_records__expires_on"))
        .values_list("pk", "expires")
    )
    today = timezone.localdate()
    return [
        {
            "user": u,
            "roles": [m.get_role_display() for m in u.roles_here],
            "last_login": u.last_login,
            "two_factor": u.pk in enrolled,
            "training_expires": expiry.get(u.pk),
            "training_current": bool(expiry.get(u.pk) and expiry[u.pk] >= today),
        }
        for u in users
    ]


@role_required(*ADMINS)
def access_review(request, organisation_id: int):
    organisation = access_organisation_by_admin(request, organisation_id)
    return render(
        request,
        "administration/access_review.jinja",
        {"organisation": organisation, "rows": review_rows(organisation)},
    )


@role_required(*ADMINS)
def access_review_csv(request, organisation_id: int):
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
