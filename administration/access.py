"""Object access for administration pages: anything outside the admin's reach is a 404.

An org admin reaches only users who hold a role at the organisation they are working for; a
national admin reaches every organisation (its details, admins and access review) but not the
day-to-day management of its users, which belongs to its own org admins.
"""

from typing import TYPE_CHECKING, TypedDict

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import Invitation, Membership, Organisation, Role, User
from accounts.requests import OrganisationRequest


class _RolesHere(TypedDict):
    roles_here: list[Membership]


if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    # A user read by `users_of`: with the memberships they hold at that organisation.
    UserWithRolesHere = WithAnnotations[User, _RolesHere]


def users_of(organisation: Organisation) -> "QuerySet[UserWithRolesHere]":
    """Users with at least one role at `organisation`, each with `roles_here` prefetched."""
    return (
        User.objects.filter(pk__in=Membership.objects.filter(organisation=organisation).values("user_id"))
        .prefetch_related(
            Prefetch(
                "memberships",
                queryset=Membership.objects.filter(organisation=organisation).order_by("role"),
                to_attr="roles_here",
            )
        )
        .order_by("full_name", "pk")
    )


def access_user_by_org_admin(request: OrganisationRequest, user_id: int) -> "UserWithRolesHere":
    return get_object_or_404(users_of(request.organisation), pk=user_id)


def access_invitation_by_org_admin(request: OrganisationRequest, invitation_id: int) -> Invitation:
    return get_object_or_404(Invitation.objects.pending(), pk=invitation_id, organisation=request.organisation)


def access_organisation_by_admin(request: OrganisationRequest, organisation_id: int) -> Organisation:
    """National admins: any organisation; org admins: only the one they work for."""
    organisation = get_object_or_404(Organisation, pk=organisation_id)
    if Role.NATIONAL_ADMIN in request.roles or organisation == request.organisation:
        return organisation
    raise Http404


def access_admin_membership_by_national_admin(
    request: OrganisationRequest, organisation: Organisation, user_id: int
) -> Membership:
    """The administrator role `user_id` holds at `organisation` (one the national admin opened)."""
    return get_object_or_404(Membership, organisation=organisation, user_id=user_id, role=Role.ORG_ADMIN)


def access_membership_by_org_admin(request: OrganisationRequest, subject: User, role: str) -> Membership:
    """The role `subject` holds at the organisation the admin works for."""
    return get_object_or_404(Membership, user=subject, organisation=request.organisation, role=role)
