"""Access administration pages: org admins manage their organisation's users; national admins
manage organisations and their admins. Every write goes through an audited service."""

import hashlib
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.db.models import Max
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.access import role_required
from accounts.administration import imports
from accounts.administration.access import (
    access_invitation_by_org_admin,
    access_organisation_by_admin,
    access_user_by_org_admin,
    users_of,
)
from accounts.administration.forms import (
    AppointAdminForm,
    InvitationAcceptForm,
    InvitationForm,
    OrganisationForm,
    OrganisationImportForm,
    RoleGrantForm,
    TrainingForm,
)
from accounts.administration.services import (
    InvitationUnusable,
    invitation_accept,
    invitation_cancel,
    invitation_create,
    invitation_refused_record,
    invitation_usable,
    org_admin_appoint,
    organisation_create,
    organisation_update,
    role_grant,
    role_remove,
    two_factor_reset,
    user_deactivate_at,
    user_reactivate_at,
    user_works_elsewhere,
)
from accounts.models import Invitation, Membership, Organisation, Role, User
from accounts.services import training_record
from audit.csv_cells import csv_response
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record

ADMINS = (Role.ORG_ADMIN, Role.NATIONAL_ADMIN)


def _status(form) -> int:
    return 400 if form.errors else 200


def _refusal_record(request, *, action: str, reason: str, organisation=None, subject: User | None = None, **detail):
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


def _reason(error: ValidationError) -> str:
    return next((e.code for e in error.error_list if e.code), "refused")


def _role_refused(form, field: str) -> bool:
    """True when the form refused a role the admin may not grant (as opposed to a typo)."""
    return any(e.code == "invalid_choice" for e in form.errors.as_data().get(field, []))


@role_required(*ADMINS)
def index(request):
    return render(request, "administration/index.jinja", {"is_national": Role.NATIONAL_ADMIN in request.roles})


# ---------------------------------------------------------------------------------------------
# The access review: users, roles, last sign-in, 2FA and training, for one organisation


def _review_rows(organisation: Organisation) -> list[dict]:
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
        {"organisation": organisation, "rows": _review_rows(organisation)},
    )


@role_required(*ADMINS)
def access_review_csv(request, organisation_id: int):
    organisation = access_organisation_by_admin(request, organisation_id)
    rows = _review_rows(organisation)
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


# ---------------------------------------------------------------------------------------------
# Org admins: the users of their organisation


@role_required(Role.ORG_ADMIN)
def users(request):
    return render(
        request,
        "administration/users.jinja",
        {
            "rows": _review_rows(request.organisation),
            "invitations": Invitation.objects.pending().filter(organisation=request.organisation),
        },
    )


@role_required(Role.ORG_ADMIN)
@never_cache
def invite(request):
    organisation = request.organisation
    form = InvitationForm(request.POST or None, organisation=organisation)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = invitation_create(
                organisation=organisation,
                email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
                roles=form.cleaned_data["roles"],
                by=request.user,
                request=request,
            )
        except ValidationError as error:
            form.add_error(None, error)
            _refusal_record(request, action=AuditAction.INVITATION_SENT, reason=_reason(error))
        else:
            messages.success(request, f"We have sent an invitation to {invitation.email}.")
            return redirect("administration:users")
    if request.method == "POST" and _role_refused(form, "roles"):
        _refusal_record(
            request,
            action=AuditAction.INVITATION_SENT,
            reason="role_not_grantable",
            roles=request.POST.getlist("roles")[:10],
        )
    return render(
        request,
        "administration/invite.jinja",
        {"form": form, "valid_hours": settings.INVITATION_VALID_HOURS},
        status=_status(form),
    )


@role_required(Role.ORG_ADMIN)
@require_POST
def invitation_cancel_view(request, invitation_id: int):
    invitation = access_invitation_by_org_admin(request, invitation_id)
    invitation_cancel(invitation=invitation, by=request.user, request=request)
    messages.success(request, f"The invitation to {invitation.email} has been cancelled.")
    return redirect("administration:users")


def _user_page(request, subject: User, *, grant_form=None, error: str = "", status: int = 200):
    organisation = request.organisation
    held = frozenset(m.role for m in subject.roles_here)
    return render(
        request,
        "administration/user_detail.jinja",
        {
            "subject": subject,
            "memberships": subject.roles_here,
            "grant_form": grant_form or RoleGrantForm(organisation=organisation, held=held),
            "training_records": subject.training_records.order_by("-completed_on"),
            "current_training": subject.current_training(),
            "two_factor": TOTPDevice.objects.filter(user=subject, confirmed=True).exists(),
            "works_elsewhere": user_works_elsewhere(user=subject, organisation=organisation),
            "error": error,
        },
        status=status,
    )


@role_required(Role.ORG_ADMIN)
def user_detail(request, user_id: int):
    return _user_page(request, access_user_by_org_admin(request, user_id))


@role_required(Role.ORG_ADMIN)
@require_POST
def role_grant_view(request, user_id: int):
    subject = access_user_by_org_admin(request, user_id)
    held = frozenset(m.role for m in subject.roles_here)
    form = RoleGrantForm(request.POST, organisation=request.organisation, held=held)
    if form.is_valid():
        try:
            role_grant(
                user=subject,
                organisation=request.organisation,
                role=form.cleaned_data["role"],
                by=request.user,
                request=request,
            )
        except ValidationError as error:
            form.add_error("role", error)
            _refusal_record(request, action=AuditAction.ROLE_GRANTED, reason=_reason(error), subject=subject)
        else:
            messages.success(request, f"{subject.full_name} is now {Role(form.cleaned_data['role']).label.lower()}.")
            return redirect("administration:user_detail", user_id=subject.pk)
    elif _role_refused(form, "role"):
        _refusal_record(
            request,
            action=AuditAction.ROLE_GRANTED,
            reason="role_not_grantable",
            subject=subject,
            role=request.POST.get("role", "")[:40],
        )
    return _user_page(request, subject, grant_form=form, status=400)


@role_required(Role.ORG_ADMIN)
@require_POST
def role_remove_view(request, user_id: int, role: str):
    subject = access_user_by_org_admin(request, user_id)
    membership = get_object_or_404(Membership, user=subject, organisation=request.organisation, role=role)
    try:
        role_remove(membership=membership, by=request.user, request=request)
    except ValidationError as error:
        _refusal_record(
            request, action=AuditAction.ROLE_REMOVED, reason=_reason(error), subject=subject, role=membership.role
        )
        return _user_page(request, subject, error=error.messages[0], status=400)
    messages.success(request, f"{subject.full_name} is no longer {membership.get_role_display().lower()}.")
    if subject == request.user and membership.role == Role.ORG_ADMIN:
        # An admin who stepped down can no longer open the user pages.
        return redirect("accounts:home")
    return redirect("administration:user_detail", user_id=subject.pk)


@role_required(Role.ORG_ADMIN)
@never_cache
def training_record_view(request, user_id: int):
    subject = access_user_by_org_admin(request, user_id)
    form = TrainingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        record = training_record(
            user=subject,
            course=form.cleaned_data["course"],
            completed_on=form.cleaned_data["completed_on"],
            by=request.user,
            request=request,
        )
        messages.success(
            request, f"Training recorded for {subject.full_name}. It is valid until {record.expires_on:%-d %B %Y}."
        )
        return redirect("administration:user_detail", user_id=subject.pk)
    return render(request, "administration/training.jinja", {"form": form, "subject": subject}, status=_status(form))


def _confirm_action(request, user_id: int, *, service, action: str, template: str, done: str):
    """GET asks "are you sure?"; POST runs `service`, or shows why it was refused."""
    subject = access_user_by_org_admin(request, user_id)
    error = ""
    if request.method == "POST":
        try:
            service(user=subject, organisation=request.organisation, by=request.user, request=request)
        except ValidationError as refused:
            error = refused.messages[0]
            _refusal_record(request, action=action, reason=_reason(refused), subject=subject)
        else:
            messages.success(request, done.format(name=subject.full_name))
            return redirect("administration:user_detail", user_id=subject.pk)
    return render(request, template, {"subject": subject, "error": error}, status=400 if error else 200)


@role_required(Role.ORG_ADMIN)
@never_cache
def user_deactivate_view(request, user_id: int):
    return _confirm_action(
        request,
        user_id,
        service=user_deactivate_at,
        action=AuditAction.USER_DEACTIVATED,
        template="administration/deactivate.jinja",
        done="{name} has been deactivated and signed out.",
    )


@role_required(Role.ORG_ADMIN)
@never_cache
def two_factor_reset_view(request, user_id: int):
    return _confirm_action(
        request,
        user_id,
        service=two_factor_reset,
        action=AuditAction.OTP_RESET,
        template="administration/two_factor_reset.jinja",
        done="Two-factor authentication has been reset for {name}. They will set it up again when they next sign in.",
    )


@role_required(Role.ORG_ADMIN)
@require_POST
def user_reactivate_view(request, user_id: int):
    subject = access_user_by_org_admin(request, user_id)
    try:
        user_reactivate_at(user=subject, organisation=request.organisation, by=request.user, request=request)
    except ValidationError as error:
        _refusal_record(request, action=AuditAction.USER_REACTIVATED, reason=_reason(error), subject=subject)
        return _user_page(request, subject, error=error.messages[0], status=400)
    messages.success(request, f"{subject.full_name} has been reactivated.")
    return redirect("administration:user_detail", user_id=subject.pk)


# ---------------------------------------------------------------------------------------------
# Invitees: accept the invitation, set a password, then enrol two-factor authentication


_INVITATION_REFUSED_TEXT = {
    "expired": "This invitation link has expired.",
    "used": "This invitation link has already been used.",
    "cancelled": "This invitation has been cancelled.",
    "unknown": "This invitation link is not valid.",
}


@login_not_required
@never_cache
def invitation_accept_view(request, token: str):
    if request.user.is_authenticated:
        return render(request, "administration/invitation_signed_in.jinja")
    try:
        invitation = invitation_usable(token=token)
    except InvitationUnusable as refused:
        invitation_refused_record(error=refused, request=request)
        return render(
            request,
            "administration/invitation_refused.jinja",
            {"text": _INVITATION_REFUSED_TEXT[refused.reason], "invitation": refused.invitation},
            status=404 if refused.reason == "unknown" else 410,
        )
    form = InvitationAcceptForm(
        request.POST or None, email=invitation.email, initial={"full_name": invitation.full_name}
    )
    if request.method == "POST" and form.is_valid():
        try:
            user = invitation_accept(
                token=token,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password"],
                request=request,
            )
        except InvitationUnusable as refused:
            # Used up by a double submit or another tab a moment ago.
            invitation_refused_record(error=refused, request=request)
            return render(
                request,
                "administration/invitation_refused.jinja",
                {"text": _INVITATION_REFUSED_TEXT[refused.reason], "invitation": refused.invitation},
                status=410,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            _pending_enrolment_start(request, user)
            return redirect("accounts:login_enrol")
    return render(
        request,
        "administration/invitation_accept.jinja",
        {"form": form, "invitation": invitation},
        status=_status(form),
    )


def _pending_enrolment_start(request, user: User) -> None:
    """Puts the new user where the sign-in journey puts them after a correct password."""
    from accounts.views import _PENDING_NEXT, _PENDING_SINCE, _PENDING_USER

    request.session.cycle_key()
    request.session[_PENDING_USER] = user.pk
    request.session[_PENDING_SINCE] = time.time()
    request.session[_PENDING_NEXT] = None


# ---------------------------------------------------------------------------------------------
# National admins: organisations and their admins


@role_required(Role.NATIONAL_ADMIN)
def organisations(request):
    return render(request, "administration/organisations.jinja", {"organisations": Organisation.objects.all()})


@role_required(Role.NATIONAL_ADMIN)
@never_cache
def organisation_create_view(request):
    form = OrganisationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        organisation = organisation_create(fields=form.cleaned_data, by=request.user, request=request)
        messages.success(request, f"{organisation.name} has been added.")
        return redirect("administration:organisation_detail", organisation_id=organisation.pk)
    return render(
        request, "administration/organisation_form.jinja", {"form": form, "organisation": None}, status=_status(form)
    )


@role_required(Role.NATIONAL_ADMIN)
@never_cache
def organisation_edit(request, organisation_id: int):
    organisation = get_object_or_404(Organisation, pk=organisation_id)
    form = OrganisationForm(request.POST or None, instance=Organisation.objects.get(pk=organisation.pk))
    if request.method == "POST" and form.is_valid():
        changed = organisation_update(
            organisation=organisation, fields=form.cleaned_data, by=request.user, request=request
        )
        messages.success(request, f"{organisation.name} has been saved." if changed else "Nothing was changed.")
        return redirect("administration:organisation_detail", organisation_id=organisation.pk)
    return render(
        request,
        "administration/organisation_form.jinja",
        {"form": form, "organisation": organisation},
        status=_status(form),
    )


def _organisation_page(request, organisation: Organisation, *, form=None, error: str = "", status: int = 200):
    return render(
        request,
        "administration/organisation_detail.jinja",
        {
            "organisation": organisation,
            "admins": Membership.objects.filter(organisation=organisation, role=Role.ORG_ADMIN)
            .select_related("user")
            .order_by("user__full_name"),
            # Filtered here, not in SQL: JSON containment is PostgreSQL-only and the demo runs on SQLite.
            "invitations": [
                i for i in Invitation.objects.pending().filter(organisation=organisation) if Role.ORG_ADMIN in i.roles
            ],
            "form": form or AppointAdminForm(),
            "error": error,
        },
        status=status,
    )


@role_required(Role.NATIONAL_ADMIN)
def organisation_detail(request, organisation_id: int):
    return _organisation_page(request, get_object_or_404(Organisation, pk=organisation_id))


@role_required(Role.NATIONAL_ADMIN)
@require_POST
def org_admin_appoint_view(request, organisation_id: int):
    organisation = get_object_or_404(Organisation, pk=organisation_id)
    form = AppointAdminForm(request.POST)
    if form.is_valid():
        try:
            result = org_admin_appoint(
                organisation=organisation,
                email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
                by=request.user,
                request=request,
            )
        except ValidationError as error:
            form.add_error("email", error)
            _refusal_record(request, action=AuditAction.ROLE_GRANTED, reason=_reason(error), organisation=organisation)
        else:
            if result.invitation:
                messages.success(request, f"We have invited {result.invitation.email} to be an administrator.")
            else:
                messages.success(request, f"{result.membership.user.full_name} is now an administrator.")
            return redirect("administration:organisation_detail", organisation_id=organisation.pk)
    return _organisation_page(request, organisation, form=form, status=400)


@role_required(Role.NATIONAL_ADMIN)
@require_POST
def org_admin_remove_view(request, organisation_id: int, user_id: int):
    organisation = get_object_or_404(Organisation, pk=organisation_id)
    membership = get_object_or_404(Membership, organisation=organisation, user_id=user_id, role=Role.ORG_ADMIN)
    try:
        role_remove(membership=membership, by=request.user, request=request)
    except ValidationError as error:
        _refusal_record(
            request,
            action=AuditAction.ROLE_REMOVED,
            reason=_reason(error),
            organisation=organisation,
            subject=membership.user,
            role=membership.role,
        )
        return _organisation_page(request, organisation, error=error.messages[0], status=400)
    messages.success(request, f"{membership.user.full_name} is no longer an administrator of {organisation.name}.")
    return redirect("administration:organisation_detail", organisation_id=organisation.pk)


_IMPORT_SESSION_KEY = "organisation_import"
_REJECTED_SESSION_KEY = "organisation_import_rejected"


def _rejected_keep(request, report: imports.ImportReport) -> None:
    """Keeps the last report's rejected rows for download (no child data; at most MAX_ROWS)."""
    rows = report.rejected_rows()
    if rows:
        request.session[_REJECTED_SESSION_KEY] = {"header": [*report.header, "reason"], "rows": rows}
    else:
        request.session.pop(_REJECTED_SESSION_KEY, None)


@role_required(Role.NATIONAL_ADMIN)
@never_cache
def organisation_import(request):
    """Upload → the per-row report of what would happen → confirm (organisation_import_confirm)."""
    form = OrganisationImportForm(request.POST or None, request.FILES or None)
    report = None
    digest = ""
    if request.method == "POST" and form.is_valid():
        try:
            text = imports.decode(form.cleaned_data["file"].read())
        except ValueError as error:
            report = imports.ImportReport(file_code=imports.FILE_UNREADABLE, file_error=str(error))
        else:
            report = imports.organisations_import(text=text, apply=False)
            _rejected_keep(request, report)
            if report.file_code != imports.FILE_UNREADABLE and report.accepted:
                digest = hashlib.sha256(text.encode()).hexdigest()
                # Kept server-side until confirmed; the file is small (MAX_BYTES) and has no child data.
                request.session[_IMPORT_SESSION_KEY] = {"text": text, "digest": digest}
    return render(
        request,
        "administration/organisation_import.jinja",
        {"form": form, "report": report, "digest": digest, "applied": False},
        status=_status(form),
    )


@role_required(Role.NATIONAL_ADMIN)
@require_POST
def organisation_import_confirm(request):
    pending = request.session.get(_IMPORT_SESSION_KEY)
    # The digest ties the confirmation to the report the admin read; a second submit finds nothing.
    if not pending or pending["digest"] != request.POST.get("digest"):
        messages.info(request, "There is no checked file waiting to be imported. Upload it again.")
        return redirect("administration:organisation_import")
    report = imports.organisations_import(text=pending["text"], apply=True, by=request.user, request=request)
    del request.session[_IMPORT_SESSION_KEY]
    _rejected_keep(request, report)
    return render(
        request,
        "administration/organisation_import.jinja",
        {"form": OrganisationImportForm(), "report": report, "digest": "", "applied": True},
    )


@role_required(Role.NATIONAL_ADMIN)
def organisation_import_rejected_csv(request):
    """The rejected rows of the last checked file, with the reason added, to fix and upload again."""
    rejected = request.session.get(_REJECTED_SESSION_KEY)
    if not rejected:
        messages.info(request, "There are no rejected rows to download. Upload a file first.")
        return redirect("administration:organisation_import")
    return csv_response("organisations-rejected.csv", rejected["header"], rejected["rows"])
