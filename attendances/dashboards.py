"""The home page's panel for a clinician or safeguarding lead, and its check form (accounts/dashboards.py)."""

import uuid

from django.utils import timezone

from accounts.access import may_use
from accounts.dashboards import Figure, Panel, home_context_register, panel_register
from accounts.models import Role
from attendances.forms import ChildCheckForm
from attendances.models import Visit
from attendances.services import CHECKING_ROLES
from core.dates import day_start


@panel_register(order=50, roles={Role.CLINICIAN, Role.SAFEGUARDING_LEAD})
def checker_panel(request) -> Panel:
    today = timezone.localdate()
    mine = Visit.objects.filter(
        checked_by=request.user, care_setting=request.organisation, recorded_at__gte=day_start(today)
    ).count()
    # A count only: a list of the children checked would put child data on the home page.
    return Panel("Your checks", [Figure(mine, "children on a plan you checked today")])


@home_context_register
def home_check_form(request) -> dict:
    """The check form itself, for whoever may check: at triage the home page is the check."""

    if not may_use(request, CHECKING_ROLES):
        return {}
    return {"form": ChildCheckForm(), "check_token": str(uuid.uuid4()), "notify": True}
