"""A read of a child's access history (AuditEvent and PractitionerRole), searched or read by
id: the rule for reading it as an unscheduled access, and its audit (docs/fhir.md "Reading the
access history")."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from attendances.models import Visit
from attendances.services import child_history
from audit.models import AuditAction, AuditOutcome
from audit.models import AuditEvent as AuditLogEntry
from audit.services import audit_record
from fhir.api.gate import ApiCall
from fhir.api.outcomes import access_denied


def _checked_recently(call: ApiCall, nhs_number: str) -> bool:
    """Whether this user, at this organisation, checked this child (a CareTeam search or a web
    check) within the episode window: the condition for reading the history as an unscheduled
    access (issue 12; docs/fhir.md "Reading the access history")."""
    since = timezone.now() - timedelta(hours=settings.NOTIFICATION_EPISODE_HOURS)
    # audit_nhs_time_idx serves this: one child's events, newest first.
    return AuditLogEntry.objects.filter(
        nhs_number=nhs_number,
        occurred_at__gte=since,
        action=AuditAction.CHILD_CHECKED,
        outcome=AuditOutcome.SUCCESS,
        user=call.token.user,
        organisation=call.token.organisation,
    ).exists()


def history_read(request, call: ApiCall, nhs_number: str, *, visit_id: int | None = None) -> list[Visit]:
    """The child's access history (at most 25 visits, newest first, only while a plan is
    visible), audited. Refused as an unscheduled access without a recent check of the child."""
    if call.unscheduled and not _checked_recently(call, nhs_number):
        error = access_denied(
            "Reading the access history as an unscheduled access needs a check of this child by you, "
            "at this organisation, within the attendance episode; check the child first (CareTeam)"
        )
        error.nhs_number = nhs_number
        raise error
    visits = child_history(nhs_number, seen_from=call.token.organisation)
    audit_record(
        action=AuditAction.FHIR_ACCESS_HISTORY_READ,
        request=request,
        user=call.token.user,
        organisation=call.token.organisation,
        roles=call.roles,
        nhs_number=nhs_number,
        detail={"visits": len(visits), "unscheduled": call.unscheduled, "visit_id": visit_id},
        trace_id=call.trace_id,
    )
    return visits
