"""Read by id (`<type>/<id>`), scoped and audited as the search that returned the resource."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db.models import Case, Q, When
from django.utils import timezone

from attendances.models import Visit
from attendances.services import SILENT_READ_ROLES
from fhir import interactions as http
from fhir import representations as resources
from fhir.api.checks import check, idempotency_key
from fhir.api.gate import ApiCall, fhir_search
from fhir.api.history import history_read
from fhir.api.outcomes import access_denied, not_found
from fhir.ids import Kind, fhir_id_key
from plans.models import Plan

# Which kinds of id each readable resource type answers.
_READABLE = {
    "CareTeam": (Kind.CARE_TEAM, Kind.FLAG_CARE_TEAM),
    "AuditEvent": (Kind.AUDIT_EVENT,),
    "PractitionerRole": (Kind.PRACTITIONER_ROLE,),
    "Flag": (Kind.FLAG,),
    "CarePlan": (Kind.CARE_PLAN,),
}
_FLAG_KINDS = (Kind.FLAG, Kind.CARE_PLAN, Kind.FLAG_CARE_TEAM)
_REPRESENT_PLAN = {
    Kind.CARE_TEAM: resources.care_team,
    Kind.FLAG: resources.flag,
    Kind.CARE_PLAN: resources.care_plan,
    Kind.FLAG_CARE_TEAM: resources.flag_care_team,
}


def _read_episode_key(request, call: ApiCall, nhs_number: str) -> uuid.UUID:
    """The check a CareTeam read by id belongs to, so the read records no second visit and no
    second notification (issue 24 item 10; docs/fhir.md "Read by id"):

    1. the check this read's TraceID made (the same key as the search's: same user,
       organisation, child and day), however long ago that day;
    2. else this user's latest check of this child at this organisation within
       FHIR_READ_EPISODE_MINUTES (an EPR that sends a new TraceID with every request);
    3. else none: the read is a check of its own (under its TraceID's key, so its retry is not).
    """
    traced = idempotency_key(request, call, nhs_number)
    since = timezone.now() - timedelta(minutes=settings.FHIR_READ_EPISODE_MINUTES)
    episode = Q(recorded_at__gte=since) | (Q(check_token=traced) if traced else Q())
    # visit_child_history_idx: the child's own few visits.
    joined = (
        Visit.objects.filter(
            episode,
            nhs_number=nhs_number,
            checked_by=call.token.user,
            care_setting=call.token.organisation,
            check_token__isnull=False,
        )
        .order_by(Case(When(check_token=traced, then=0), default=1), "-recorded_at")
        .values_list("check_token", flat=True)
        .first()
    )
    return joined or traced or uuid.uuid4()


@fhir_search
def resource_read(request, call: ApiCall, resource: str, resource_id: str) -> dict:
    """Read by id, scoped and audited as the search that returned the resource:

    - a CP-IS CareTeam: the check again (visit and notification when unscheduled);
    - an AuditEvent or PractitionerRole: a read of the child's history, under the same rule;
    - a Flag, CarePlan or the Flag's CareTeam: a view without notifying (safeguarding leads).

    An id that is not one we issued, or whose record is no longer visible, is 404.
    """
    http.refuse_unknown_parameters(request)
    decoded = fhir_id_key(resource_id, _READABLE.get(resource, ()))
    if decoded is None:
        raise not_found(f"No {resource} with that id")
    kind, pk = decoded
    # Each id is looked up inside what the API may show this token (a visit of a child a plan
    # still shares; a visible plan; for a conformance run's synthetic setting, synthetic only), so one outside it answers exactly as one that never existed:
    # no check, no history read, no refusal that only an existing record could earn.
    if kind in (Kind.AUDIT_EVENT, Kind.PRACTITIONER_ROLE):
        shared = Plan.objects.visible().seen_from(call.token.organisation).values("nhs_number")
        visit = Visit.objects.filter(pk=pk, nhs_number__in=shared).only("nhs_number").first()
        if visit is None:
            raise not_found(f"No {resource} with that id")
        visits = [v for v in history_read(request, call, visit.nhs_number, visit_id=pk) if v.pk == pk]
        if not visits:
            raise not_found(f"No {resource} with that id")
        if kind == Kind.AUDIT_EVENT:
            return resources.audit_event(visits[0])
        return resources.practitioner_role(visits[0])
    silent = kind in _FLAG_KINDS or not call.unscheduled
    if kind in _FLAG_KINDS and not call.roles & SILENT_READ_ROLES:
        raise access_denied("The Patient Flag API views without notifying: it needs the safeguarding lead role")
    plan = Plan.objects.visible().seen_from(call.token.organisation).filter(pk=pk).only("nhs_number").first()
    if plan is None:
        raise not_found(f"No {resource} with that id")
    key = None if silent else _read_episode_key(request, call, plan.nhs_number)
    result = check(request, call, plan.nhs_number, silent=silent, idempotency_key=key)
    visible = [p for p in result.plans if p.pk == pk]
    if not visible:
        raise not_found(f"No {resource} with that id")
    return _REPRESENT_PLAN[kind](visible[0])
