"""The service-health page (national admins) and each LA's delivery page (its admins).

Both show counts, ages, ids and names of organisations and jobs only, never child data, and
refresh themselves every 30 s (static/cpis/auto-refresh.js; no inline script).
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from accounts.access import role_required
from accounts.forms import post_data
from accounts.models import Role
from accounts.requests import CpisRequest, OrganisationRequest
from administration.access import access_organisation_by_admin
from administration.views.shared import form_status
from mesh.forms import MeshMailboxForm
from mesh.services import mesh_mailbox_set
from operations.mesh_state import mesh_state
from operations.services import service_health


def _render(request: CpisRequest, template: str, health, **extra):
    # The auto-refresh fetches the page again and swaps in its `[data-auto-refresh]` region.
    return render(request, template, {"health": health, **extra})


@never_cache
@role_required(Role.NATIONAL_ADMIN)
def service_health_page(request: OrganisationRequest):
    return _render(request, "operations/service_health.jinja", service_health(), mesh=mesh_state())


@never_cache
@role_required(Role.ORG_ADMIN, local_authority_only=True)
def la_deliveries_page(request: OrganisationRequest):
    return _render(
        request,
        "operations/la_deliveries.jinja",
        service_health(local_authority=request.organisation),
        mesh=mesh_state(local_authority=request.organisation),
    )


@never_cache
@role_required(Role.NATIONAL_ADMIN)
def mesh_mailbox_edit(request: OrganisationRequest, organisation_id: int):
    """A national admin sets an LA's MESH mailbox (audited by the service)."""
    organisation = access_organisation_by_admin(request, organisation_id)
    current = mesh_state(local_authority=organisation).local_authorities[0].mailbox_id
    form: MeshMailboxForm | None = None
    if organisation.is_local_authority:
        form = MeshMailboxForm(post_data(request), local_authority=organisation, initial={"mailbox_id": current})
    if form is not None and request.method == "POST" and form.is_valid():
        mesh_mailbox_set(local_authority=organisation, mailbox_id=form.cleaned_data["mailbox_id"], request=request)
        messages.success(request, f"The MESH mailbox of {organisation.name} has been saved.")
        return redirect("operations:service_health")
    return render(
        request,
        "operations/mesh_mailbox_form.jinja",
        {"form": form, "organisation": organisation},
        status=form_status(form) if form is not None else 200,
    )
