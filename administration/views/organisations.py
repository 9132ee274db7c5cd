"""National admins: organisations (also by CSV import) and their admins."""

import hashlib
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.access import role_required
from accounts.forms import post_data, region_choices, region_filter
from accounts.models import Role
from accounts.requests import CpisRequest, OrganisationRequest
from administration import imports
from administration.access import access_admin_membership_by_national_admin, access_organisation_by_admin
from administration.forms import (
    AppointAdminForm,
    OrganisationForm,
    OrganisationImportForm,
)
from administration.organisation_sections import organisation_sections
from administration.selectors import admin_invitations_pending, organisation_admin_memberships, organisations_found
from administration.services import (
    org_admin_appoint,
    organisation_create,
    organisation_update,
    role_remove,
)
from administration.views.shared import (
    EMAIL_FAILED_TEXT,
    form_status,
    refusal_reason,
    refusal_record,
    search_query,
)
from audit.models import AuditAction
from core.csv_cells import csv_response

if TYPE_CHECKING:
    from accounts.models import Organisation


ORGANISATIONS_PAGE_SIZE = 50


@role_required(Role.NATIONAL_ADMIN)
def organisations(request: OrganisationRequest):
    query = search_query(request)
    region = region_filter(request)
    active_only = request.GET.get("status") == "active"
    found = organisations_found(query=query, region=region, active_only=active_only)
    # A page at a time: the country has over a thousand organisations, and the search finds one.
    page = Paginator(found.order_by("name", "id"), ORGANISATIONS_PAGE_SIZE).get_page(request.GET.get("page"))
    kept = {"q": query, "region": region, "status": "active" if active_only else ""}
    filters = urlencode({name: value for name, value in kept.items() if value})
    return render(
        request,
        "administration/organisations.jinja",
        {
            "page": page,
            "filters": filters,
            "query": query,
            "region": region,
            "regions": region_choices(region),
            "active_only": active_only,
            "filtered": bool(query or region or active_only),
        },
    )


@never_cache
@role_required(Role.NATIONAL_ADMIN)
def organisation_create_view(request: OrganisationRequest):
    form = OrganisationForm(post_data(request))
    if request.method == "POST" and form.is_valid():
        organisation = organisation_create(fields=form.cleaned_data, by=request.user, request=request)
        messages.success(request, f"{organisation.name} has been added.")
        return redirect("administration:organisation_detail", organisation_id=organisation.pk)
    return render(
        request,
        "administration/organisation_form.jinja",
        {"form": form, "organisation": None},
        status=form_status(form),
    )


@never_cache
@role_required(Role.NATIONAL_ADMIN)
def organisation_edit(request: OrganisationRequest, organisation_id: int):
    organisation = access_organisation_by_admin(request, organisation_id)
    # The form changes its instance as it validates; the service compares with the stored one.
    form = OrganisationForm(post_data(request), instance=access_organisation_by_admin(request, organisation_id))
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
        status=form_status(form),
    )


def _organisation_page(
    request: CpisRequest, organisation: "Organisation", *, form=None, error: str = "", status: int = 200
):
    return render(
        request,
        "administration/organisation_detail.jinja",
        {
            "organisation": organisation,
            "admins": organisation_admin_memberships(organisation),
            "invitations": admin_invitations_pending(organisation),
            "form": form or AppointAdminForm(),
            "error": error,
            # Added by apps above this one (administration/organisation_sections.py).
            "sections": organisation_sections(request, organisation),
        },
        status=status,
    )


@role_required(Role.NATIONAL_ADMIN)
def organisation_detail(request: OrganisationRequest, organisation_id: int):
    return _organisation_page(request, access_organisation_by_admin(request, organisation_id))


@role_required(Role.NATIONAL_ADMIN)
@require_POST
def org_admin_appoint_view(request: OrganisationRequest, organisation_id: int):
    organisation = access_organisation_by_admin(request, organisation_id)
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
            refusal_record(
                request, action=AuditAction.ROLE_GRANTED, reason=refusal_reason(error), organisation=organisation
            )
        else:
            if result.invitation and getattr(result.invitation, "email_failed", False):
                form.add_error("email", EMAIL_FAILED_TEXT)
                return _organisation_page(request, organisation, form=form, status=503)
            if result.invitation:
                messages.success(request, f"We have invited {result.invitation.email} to be an administrator.")
            elif result.membership is not None:
                messages.success(request, f"{result.membership.user.full_name} is now an administrator.")
            return redirect("administration:organisation_detail", organisation_id=organisation.pk)
    return _organisation_page(request, organisation, form=form, status=400)


@role_required(Role.NATIONAL_ADMIN)
@require_POST
def org_admin_remove_view(request: OrganisationRequest, organisation_id: int, user_id: int):
    organisation = access_organisation_by_admin(request, organisation_id)
    membership = access_admin_membership_by_national_admin(request, organisation, user_id)
    try:
        role_remove(membership=membership, by=request.user, request=request)
    except ValidationError as error:
        refusal_record(
            request,
            action=AuditAction.ROLE_REMOVED,
            reason=refusal_reason(error),
            organisation=organisation,
            subject=membership.user,
            role=membership.role,
        )
        return _organisation_page(request, organisation, error=error.messages[0], status=400)
    messages.success(request, f"{membership.user.full_name} is no longer an administrator of {organisation.name}.")
    return redirect("administration:organisation_detail", organisation_id=organisation.pk)


_IMPORT_SESSION_KEY = "organisation_import"
_REJECTED_SESSION_KEY = "organisation_import_rejected"


def _rejected_keep(request: CpisRequest, report: imports.ImportReport) -> None:
    """Keeps the last report's rejected rows for download (no child data; at most MAX_ROWS)."""
    rows = report.rejected_rows()
    if rows:
        request.session[_REJECTED_SESSION_KEY] = {"header": [*report.header, "reason"], "rows": rows}
    else:
        request.session.pop(_REJECTED_SESSION_KEY, None)


@never_cache
@role_required(Role.NATIONAL_ADMIN)
def organisation_import(request: OrganisationRequest):
    """Upload → the per-row report of what would happen → confirm (organisation_import_confirm)."""
    form = OrganisationImportForm(post_data(request), request.FILES if request.method == "POST" else None)
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
        status=form_status(form),
    )


@role_required(Role.NATIONAL_ADMIN)
@require_POST
def organisation_import_confirm(request: OrganisationRequest):
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
def organisation_import_rejected_csv(request: OrganisationRequest):
    """The rejected rows of the last checked file, with the reason added, to fix and upload again."""
    rejected = request.session.get(_REJECTED_SESSION_KEY)
    if not rejected:
        messages.info(request, "There are no rejected rows to download. Upload a file first.")
        return redirect("administration:organisation_import")
    return csv_response("organisations-rejected.csv", rejected["header"], rejected["rows"])
