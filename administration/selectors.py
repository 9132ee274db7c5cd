"""Reads for the administration pages: what a page shows beyond the one object its access
helper (administration/access.py) opens."""

from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from accounts.forms import organisations_in_region
from accounts.models import AccessReview, Invitation, InvitationQuerySet, Membership, Organisation, Role, User
from accounts.second_factors import users_with_second_factor
from administration.access import users_of


def review_rows(organisation: Organisation) -> list[dict]:
    """One row per user of `organisation`, in three queries whatever the number of users."""
    users = list(users_of(organisation))
    ids = [u.pk for u in users]
    # Enrolment as an administrator sees it: a passkey or a provider's assurance counts.
    enrolled = set(
        users_with_second_factor(User.objects.filter(pk__in=ids), provider_assurance=True).values_list("pk", flat=True)
    )
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


def access_review_last(organisation: Organisation) -> AccessReview | None:
    """The organisation's latest recorded access review, if any."""
    return AccessReview.objects.filter(organisation=organisation).first()


def organisations_found(*, query: str, region: str, active_only: bool) -> QuerySet[Organisation]:
    """The national list of organisations, narrowed by the search, the region and the status.
    Not the conformance runs' synthetic organisations: each run's page names its own, and they
    are nobody's to administer."""
    found = organisations_in_region(Organisation.objects.filter(is_synthetic=False), region)
    if query:
        found = found.filter(Q(name__icontains=query) | Q(ods_code__iexact=query))
    if active_only:
        found = found.filter(is_active=True)
    return found


def organisation_admin_memberships(organisation: Organisation) -> QuerySet[Membership]:
    """The organisation's administrators, by name, each with their user."""
    return (
        Membership.objects.filter(organisation=organisation, role=Role.ORG_ADMIN)
        .select_related("user")
        .order_by("user__full_name")
    )


def invitations_pending(organisation: Organisation) -> InvitationQuerySet:
    """The organisation's invitations not yet accepted or cancelled."""
    return Invitation.objects.pending().filter(organisation=organisation)


def admin_invitations_pending(organisation: Organisation) -> list[Invitation]:
    """The pending invitations that would make someone an administrator of the organisation."""
    # Filtered here, not in SQL: JSON containment is PostgreSQL-only and the demo runs on SQLite.
    return [i for i in invitations_pending(organisation) if Role.ORG_ADMIN in i.roles]
