"""Org admins: the users of their organisation (roles, training, deactivation, 2FA resets)."""

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.access import role_required
from accounts.forms import post_data
from accounts.models import Role
from accounts.passwords import password_reset_by_admin
from accounts.requests import OrganisationRequest
from accounts.second_factors import has_second_factor
from accounts.services import training_record
from administration.access import (
    access_invitation_by_org_admin,
    access_membership_by_org_admin,
    access_user_by_org_admin,
)
from administration.forms import (
    InvitationForm,
    RoleGrantForm,
    TrainingForm,
)
from administration.selectors import invitations_pending, review_rows
from administration.services import (
    invitation_cancel,
    invitation_create,
    invitation_resend,
    role_grant,
    role_remove,
    two_factor_reset,
    user_deactivate_at,
    user_reactivate_at,
    user_works_elsewhere,
)
from administration.views.access_review import rows_shown
from administration.views.shared import (
    EMAIL_FAILED_TEXT,
    form_status,
    refusal_reason,
    refusal_record,
    role_refused,
    search_query,
)
from audit.models import AuditAction
from core.formatting import date_format

if TYPE_CHECKING:
    from administration.access import UserWithRolesHere


@role_required(Role.ORG_ADMIN)
def users(request: OrganisationRequest):
    query = search_query(request)
    rows, shown = rows_shown(request, review_rows(request.organisation))
    if query:
        wanted = query.lower()
        rows = [r for r in rows if wanted in r["user"].full_name.lower() or wanted in r["user"].email.lower()]
    return render(
        request,
        "administration/users.jinja",
        {
            "query": query,
            "rows": rows,
            "shown": shown,
            "invitations": invitations_pending(request.organisation),
        },
    )


@never_cache
@role_required(Role.ORG_ADMIN)
def invite(request: OrganisationRequest):
    organisation = request.organisation
    form = InvitationForm(post_data(request), organisation=organisation)
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
            refusal_record(request, action=AuditAction.INVITATION_SENT, reason=refusal_reason(error))
        else:
            if not getattr(invitation, "email_failed", False):
                messages.success(request, f"We have sent an invitation to {invitation.email}.")
                return redirect("administration:users")
            form.add_error(None, EMAIL_FAILED_TEXT)
            return render(
                request,
                "administration/invite.jinja",
                {"form": form, "valid_hours": settings.INVITATION_VALID_HOURS},
                status=503,
            )
    if request.method == "POST" and role_refused(form, "roles"):
        refusal_record(
            request,
            action=AuditAction.INVITATION_SENT,
            reason="role_not_grantable",
            roles=request.POST.getlist("roles")[:10],
        )
    return render(
        request,
        "administration/invite.jinja",
        {"form": form, "valid_hours": settings.INVITATION_VALID_HOURS},
        status=form_status(form),
    )


@role_required(Role.ORG_ADMIN)
@require_POST
def invitation_cancel_view(request: OrganisationRequest, invitation_id: int):
    invitation = access_invitation_by_org_admin(request, invitation_id)
    invitation_cancel(invitation=invitation, by=request.user, request=request)
    messages.success(request, f"The invitation to {invitation.email} has been cancelled.")
    return redirect("administration:users")


@role_required(Role.ORG_ADMIN)
@require_POST
def invitation_resend_view(request: OrganisationRequest, invitation_id: int):
    invitation = access_invitation_by_org_admin(request, invitation_id)
    try:
        sent = invitation_resend(invitation=invitation, by=request.user, request=request)
    except ValidationError as error:
        # The person made an account meanwhile, or a role can no longer be granted here.
        messages.error(request, " ".join(error.messages))
        return redirect("administration:users")
    if getattr(sent, "email_failed", False):
        messages.error(request, EMAIL_FAILED_TEXT)
    else:
        messages.success(request, f"We have sent a new invitation to {sent.email}. The earlier link no longer works.")
    return redirect("administration:users")


def _user_page(
    request: OrganisationRequest, subject: "UserWithRolesHere", *, grant_form=None, error: str = "", status: int = 200
):
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
            # Enrolment as the administrator sees it: a provider's assurance counts.
            "two_factor": has_second_factor(subject, provider_assurance=True),
            "works_elsewhere": user_works_elsewhere(user=subject, organisation=organisation),
            "error": error,
        },
        status=status,
    )


@role_required(Role.ORG_ADMIN)
def user_detail(request: OrganisationRequest, user_id: int):
    return _user_page(request, access_user_by_org_admin(request, user_id))


@role_required(Role.ORG_ADMIN)
@require_POST
def role_grant_view(request: OrganisationRequest, user_id: int):
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
            refusal_record(request, action=AuditAction.ROLE_GRANTED, reason=refusal_reason(error), subject=subject)
        else:
            messages.success(request, f"{subject.full_name} is now {Role(form.cleaned_data['role']).label.lower()}.")
            return redirect("administration:user_detail", user_id=subject.pk)
    elif role_refused(form, "role"):
        refusal_record(
            request,
            action=AuditAction.ROLE_GRANTED,
            reason="role_not_grantable",
            subject=subject,
            role=request.POST.get("role", "")[:40],
        )
    return _user_page(request, subject, grant_form=form, status=400)


@role_required(Role.ORG_ADMIN)
@require_POST
def role_remove_view(request: OrganisationRequest, user_id: int, role: str):
    subject = access_user_by_org_admin(request, user_id)
    membership = access_membership_by_org_admin(request, subject, role)
    try:
        role_remove(membership=membership, by=request.user, request=request)
    except ValidationError as error:
        refusal_record(
            request,
            action=AuditAction.ROLE_REMOVED,
            reason=refusal_reason(error),
            subject=subject,
            role=membership.role,
        )
        return _user_page(request, subject, error=error.messages[0], status=400)
    messages.success(request, f"{subject.full_name} is no longer {membership.get_role_display().lower()}.")
    if subject == request.user and membership.role == Role.ORG_ADMIN:
        # An admin who stepped down can no longer open the user pages.
        return redirect("accounts:home")
    return redirect("administration:user_detail", user_id=subject.pk)


@never_cache
@role_required(Role.ORG_ADMIN)
def training_record_view(request: OrganisationRequest, user_id: int):
    subject = access_user_by_org_admin(request, user_id)
    form = TrainingForm(post_data(request))
    if request.method == "POST" and form.is_valid():
        try:
            record = training_record(
                user=subject,
                course=form.cleaned_data["course"],
                completed_on=form.cleaned_data["completed_on"],
                by=request.user,
                request=request,
            )
        except ValidationError as error:
            form.add_error(None, error)
            refusal_record(request, action=AuditAction.TRAINING_RECORDED, reason=refusal_reason(error), subject=subject)
        else:
            messages.success(
                request,
                f"Training recorded for {subject.full_name}. It is valid until {date_format(record.expires_on)}.",
            )
            return redirect("administration:user_detail", user_id=subject.pk)
    return render(
        request, "administration/training.jinja", {"form": form, "subject": subject}, status=form_status(form)
    )


def _confirm_action(request: OrganisationRequest, user_id: int, *, service, action: str, template: str, done: str):
    """GET asks "are you sure?"; POST runs `service`, or shows why it was refused."""
    subject = access_user_by_org_admin(request, user_id)
    error = ""
    if request.method == "POST":
        try:
            service(user=subject, organisation=request.organisation, by=request.user, request=request)
        except ValidationError as refused:
            error = refused.messages[0]
            refusal_record(request, action=action, reason=refusal_reason(refused), subject=subject)
        else:
            messages.success(request, done.format(name=subject.full_name))
            return redirect("administration:user_detail", user_id=subject.pk)
    return render(request, template, {"subject": subject, "error": error}, status=400 if error else 200)


@never_cache
@role_required(Role.ORG_ADMIN)
def user_deactivate_view(request: OrganisationRequest, user_id: int):
    return _confirm_action(
        request,
        user_id,
        service=user_deactivate_at,
        action=AuditAction.USER_DEACTIVATED,
        template="administration/deactivate.jinja",
        done="{name} has been deactivated and signed out.",
    )


@never_cache
@role_required(Role.ORG_ADMIN)
def two_factor_reset_view(request: OrganisationRequest, user_id: int):
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
def user_reactivate_view(request: OrganisationRequest, user_id: int):
    subject = access_user_by_org_admin(request, user_id)
    try:
        user_reactivate_at(user=subject, organisation=request.organisation, by=request.user, request=request)
    except ValidationError as error:
        refusal_record(request, action=AuditAction.USER_REACTIVATED, reason=refusal_reason(error), subject=subject)
        return _user_page(request, subject, error=error.messages[0], status=400)
    messages.success(request, f"{subject.full_name} has been reactivated.")
    return redirect("administration:user_detail", user_id=subject.pk)


@role_required(Role.ORG_ADMIN)
@require_POST
def password_reset_send_view(request: OrganisationRequest, user_id: int):
    """E-mails the user a reset link: they still need their second factor to use it, so the
    admin never learns or sets a password."""
    subject = access_user_by_org_admin(request, user_id)
    if not subject.is_active:
        refusal_record(request, action=AuditAction.PASSWORD_RESET_SENT_BY_ADMIN, reason="inactive", subject=subject)
        return _user_page(request, subject, error="Reactivate the account first.", status=400)
    password_reset_by_admin(user=subject, by=request.user, organisation=request.organisation, request=request)
    messages.success(request, f"We have emailed {subject.full_name} a link to choose a new password.")
    return redirect("administration:user_detail", user_id=subject.pk)
