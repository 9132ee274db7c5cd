"""The service-health page (national admins) and each LA's delivery page (its admins).

Both show counts, ages, ids and names of organisations and jobs only, never child data, and
refresh themselves every 30 s (static/cpis/auto-refresh.js; no inline script).
"""

from django.shortcuts import render
from django.views.decorators.cache import never_cache

from accounts.access import role_required
from accounts.models import Role
from accounts.requests import CpisRequest, OrganisationRequest
from operations.services import service_health


def _render(request: CpisRequest, template: str, health, **extra):
    # The auto-refresh fetches the page again and swaps in its `[data-auto-refresh]` region.
    return render(request, template, {"health": health, **extra})


@never_cache
@role_required(Role.NATIONAL_ADMIN)
def service_health_page(request: OrganisationRequest):
    return _render(request, "operations/service_health.jinja", service_health())


@never_cache
@role_required(Role.ORG_ADMIN, local_authority_only=True)
def la_deliveries_page(request: OrganisationRequest):
    return _render(request, "operations/la_deliveries.jinja", service_health(local_authority=request.organisation))
