"""The home page's panel for a clinician or safeguarding lead, and its check form (accounts/dashboards.py)."""

import uuid

from django.urls import reverse

from accounts.access import may_use
from accounts.dashboards import Figure, Panel, home_context_register, panel_register
from accounts.models import Role
from accounts.requests import CpisRequest, OrganisationRequest
from attendances.forms import ChildCheckForm
from attendances.services import CHECKING_ROLES, checks_today_events


@panel_register(order=50, roles={Role.CLINICIAN, Role.SAFEGUARDING_LEAD})
def checker_panel(request: OrganisationRequest) -> Panel:
    checks = reverse("attendances:checks_today")
    # Counts only: the children checked are listed behind the link, not on the home page.
    details = list(
        checks_today_events(user=request.user, organisation=request.organisation).values_list("detail", flat=True)
    )
    on_plan = sum(1 for detail in details if detail.get("plan_ids"))
    return Panel(
        "Your checks",
        [
            Figure(len(details), "checks you made today", checks),
            Figure(on_plan, "children on a plan you checked today", f"{checks}?result=plan"),
        ],
    )


@home_context_register
def home_check_form(request: CpisRequest) -> dict:
    """The check form itself, for whoever may check: at triage the home page is the check."""

    if not may_use(request, CHECKING_ROLES):
        return {}
    return {"form": ChildCheckForm(), "check_token": str(uuid.uuid4()), "notify": True}
