"""The NHS number a search names, and the check it makes: through the web journey's own
`child_check` service, keyed so that a retry of the same request records no second visit."""

import uuid

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from attendances.services import CheckFormExpired, CheckResult, checking_role, child_check
from core.nhs_numbers import nhs_number_normalise
from fhir import representations as resources
from fhir.api.gate import ApiCall
from fhir.api.outcomes import access_denied, invalid_search


def nhs_number_parameter(value: str) -> str:
    """The NHS number a search parameter names, or the national 400 for one that is not."""
    try:
        return nhs_number_normalise(value)
    except ValidationError:
        raise invalid_search() from None


def patient_nhs_number(request) -> str:
    values = request.GET.getlist("patient:identifier")
    if len(values) != 1:
        raise invalid_search("Exactly one patient:identifier parameter is required")
    system, bar, value = values[0].partition("|")
    if not bar or system != resources.NHS_NUMBER_SYSTEM:
        raise invalid_search(f"patient:identifier must be {resources.NHS_NUMBER_SYSTEM}|<NHS number>")
    return nhs_number_parameter(value)


def check(
    request, call: ApiCall, nhs_number: str, *, silent: bool, idempotency_key: uuid.UUID | None = None
) -> CheckResult:
    """The check (or, `silent`, the view without notifying), through the web journey's service."""

    def checked(key: uuid.UUID | None) -> CheckResult:
        return child_check(
            nhs_number=nhs_number,
            date_of_birth=None,
            arrived_at=timezone.now(),
            user=call.token.user,
            organisation=call.token.organisation,
            role=checking_role(call.roles, notify=not silent),
            notify=not silent,
            trace_id=call.trace_id,
            request=request,
            idempotency_key=key if not silent else None,
        )

    try:
        try:
            return checked(idempotency_key)
        except CheckFormExpired:
            # The TraceID named a check of this child from before the episode window (the same
            # day, with NOTIFICATION_EPISODE_HOURS under 24): not a retry, a new attendance.
            return checked(uuid.uuid4())
    except PermissionDenied as exc:
        raise access_denied(str(exc)) from None


# Fixed for ever: changing it would let a retry in flight across a release record twice.
_IDEMPOTENCY_NAMESPACE = uuid.UUID("0b6f5a52-2f4e-4c43-9d0c-7d4e7a1c2f10")


def idempotency_key(request, call: ApiCall, nhs_number: str) -> uuid.UUID | None:
    """The client's own TraceID makes a check idempotent: a retry with the same one (after a
    connection died, perhaps after the first had committed) records no second visit.

    Scoped to the token's owner, their organisation, the child and the day, so one client's
    TraceIDs can never suppress another's check, and a client that wrongly reuses a TraceID
    still records each day's attendance. None when the client sent no TraceID.
    """
    if not request.headers.get("TraceID"):
        return None
    day = timezone.localdate().isoformat()
    scope = f"{call.token.user_id}:{call.token.organisation_id}:{nhs_number}:{day}:{call.trace_id}"
    return uuid.uuid5(_IDEMPOTENCY_NAMESPACE, scope)
