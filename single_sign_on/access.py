"""Object access for the single sign-on pages: anything a visitor or admin may not open is a 404."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import Role
from accounts.requests import CpisRequest, OrganisationRequest
from single_sign_on.models import IdentityProvider, LinkRequest
from single_sign_on.selectors import link_requests_visible_to


def access_enabled_provider_by_visitor(request: CpisRequest, provider_id: int) -> IdentityProvider:
    """A provider anyone may start a sign-in at: only an enabled one."""
    return get_object_or_404(IdentityProvider.objects.select_related("organisation"), pk=provider_id, is_enabled=True)


def access_provider_by_visitor(request: CpisRequest, provider_id: int) -> IdentityProvider:
    """The provider whose own sign-out is offered after ours, enabled or not."""
    return get_object_or_404(IdentityProvider, pk=provider_id)


def link_requests_visible_to_admin(request: OrganisationRequest) -> QuerySet[LinkRequest]:
    """The undecided link requests this admin may decide (the list, and what a decision opens)."""
    return link_requests_visible_to(
        user=request.user, organisation=request.organisation, national=Role.NATIONAL_ADMIN in request.roles
    )


def access_link_request_by_admin(request: OrganisationRequest, link_request_id: int) -> LinkRequest:
    return get_object_or_404(link_requests_visible_to_admin(request), pk=link_request_id)
