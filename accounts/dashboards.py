"""The home page's figures for each role: what is waiting for this person, each figure a link
to the list it counts.

One function per role, each a handful of COUNT queries scoped to the current organisation;
the home page shows the panels for the roles the person holds and may use (see may_use).
Figures count; they never name a child.

A panel lives in the app whose records it counts (plans/dashboards.py and so on) and registers
itself here from its app's `ready()`: accounts sits below those apps and must not import them
(docs/adr/ADR-010-layout.md).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from accounts.models import ACCESS_REVIEW_DUE_DAYS, AccessReview, Invitation, Membership, Role, User
from accounts.requests import CpisRequest, OrganisationRequest
from accounts.second_factors import users_with_second_factor
from core.formatting import date_format


@dataclass
class Figure:
    value: int | str
    label: str
    href: str | None = None
    # Words for a red tag beside the figure, when it needs acting on.
    flag: str = ""


@dataclass
class Panel:
    heading: str
    figures: list[Figure] = field(default_factory=list)
    note: str = ""
    note_href: str | None = None


# (order, roles, panel): a person holding several roles sees each panel once, in this order.
_PANELS: list[tuple[int, frozenset[str], Callable]] = []
# Functions adding to the home page's context (the check form, from attendances).
_HOME_CONTEXT: list[Callable[..., dict]] = []


def panel_register(*, order: int, roles) -> Callable:
    def register(panel: Callable) -> Callable:
        if all(p is not panel for _, _, p in _PANELS):
            _PANELS.append((order, frozenset(roles), panel))
            _PANELS.sort(key=lambda entry: entry[0])
        return panel

    return register


def home_context_register(function: Callable[..., dict]) -> Callable[..., dict]:
    if function not in _HOME_CONTEXT:
        _HOME_CONTEXT.append(function)
    return function


def home_context(request: CpisRequest) -> dict:
    context: dict = {}
    for function in _HOME_CONTEXT:
        context.update(function(request))
    return context


@panel_register(order=30, roles={Role.ORG_ADMIN})
def org_admin_panel(request: OrganisationRequest) -> Panel:
    organisation = request.organisation
    users = reverse("administration:users")
    review = reverse("administration:access_review", kwargs={"organisation_id": organisation.pk})
    member_ids = list(Membership.objects.filter(organisation=organisation).values_list("user_id", flat=True).distinct())
    today = timezone.localdate()
    active = User.objects.filter(pk__in=member_ids, is_active=True)
    expiring = (
        active.annotate(expires=Max("training_records__expires_on"))
        .filter(expires__gte=today, expires__lte=today + timedelta(days=30))
        .count()
    )
    # As the access review counts them (administration/views/access_review.py).
    with_2fa = users_with_second_factor(active, provider_assurance=True).count()
    pending = Invitation.objects.pending().filter(organisation=organisation).count()
    last_review = AccessReview.objects.filter(organisation=organisation).first()
    if last_review is None:
        reviewed = Figure("Never", "access review recorded", review, flag="Review who has access")
    else:
        reviewed = Figure(
            date_format(last_review.reviewed_at),
            "last access review",
            review,
            flag=f"More than {ACCESS_REVIEW_DUE_DAYS} days ago" if last_review.is_overdue else "",
        )
    return Panel(
        "Your organisation's users",
        [
            Figure(active.count(), "active users", f"{users}?show=active"),
            Figure(expiring, "with training expiring in the next 30 days", f"{review}?show=training_expiring"),
            Figure(active.count() - with_2fa, "without two-factor authentication", f"{review}?show=no_two_factor"),
            Figure(pending, "invitations not yet accepted", f"{users}#invitations"),
            reviewed,
        ],
    )


def panels_for(request: CpisRequest) -> list[Panel]:
    from accounts.access import may_use

    if request.organisation is None:
        return []
    return [panel(request) for _, roles, panel in _PANELS if may_use(request, roles)]
