"""The responsible local authority's look at one child (a social worker's view)."""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from accounts.models import Organisation, Role, User
from attendances.models import Visit
from attendances.services.history import visits_recent
from attendances.services.plans import plans_sorted
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record
from core.nhs_numbers import nhs_number_normalise
from plans.models import Plan


@dataclass(frozen=True)
class ChildRecord:
    """What the responsible local authority sees: its own visible plans and the visits."""

    nhs_number: str
    plans: list[Plan]
    visits: list[Visit]


def child_view_by_local_authority(
    *, nhs_number: str, organisation: Organisation, user: User, request: HttpRequest | None = None, trace_id: str = ""
) -> ChildRecord | None:
    """A social worker's look at one child: None unless their LA holds a visible plan for it.

    Only the viewer's own LA's plans are returned, never another LA's: which other councils
    know a child is theirs to share. The visits (last 25) are the child's, from any setting.
    Audited whether or not the child is found.
    """
    if not organisation.is_local_authority:
        raise PermissionDenied("Only a local authority sees its children's records.")
    nhs_number = nhs_number_normalise(nhs_number)
    plans = plans_sorted(
        Plan.objects.visible().for_local_authority(organisation).of_subject(nhs_number).select_related("organisation")
    )
    visits = visits_recent(nhs_number) if plans else []
    audit_record(
        action=AuditAction.CHILD_VIEWED_BY_LA,
        request=request,
        user=user,
        organisation=organisation,
        roles=[Role.SOCIAL_WORKER],
        nhs_number=nhs_number,
        outcome=AuditOutcome.SUCCESS if plans else AuditOutcome.FAILURE,
        trace_id=trace_id,
        detail={"plan_ids": [p.pk for p in plans], "visits_shown": len(visits)},
    )
    if not plans:
        return None
    return ChildRecord(nhs_number=nhs_number, plans=plans, visits=visits)
