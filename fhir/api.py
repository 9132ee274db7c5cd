"""The FHIR R4 API, compatible with the national CP-IS FHIR API (a thin layer over the check).

Every call answers `application/fhir+json`, echoes the caller's TraceID, and is audited:
a check through the same `child_check` service as the web journey, anything refused as
FHIR_REQUEST_REFUSED with the reason.
"""

import json
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Membership, Role
from attendances.models import VISITS_KEPT, Visit
from attendances.services import CHECKING_ROLES, SILENT_READ_ROLES, child_check
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record
from cpis.resilience import cache_breaker
from fhir import representations as resources
from fhir.models import ApiToken, token_hash
from plans.models import Plan
from plans.nhs_numbers import nhs_number_normalise

FHIR_JSON = "application/fhir+json"
_TRACE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class FhirError(Exception):
    def __init__(self, status: int, code: str, issue_type: str, display: str, diagnostics: str):
        super().__init__(diagnostics)
        self.status, self.code, self.issue_type, self.display, self.diagnostics = (
            status,
            code,
            issue_type,
            display,
            diagnostics,
        )


def _invalid_search(diagnostics: str = "Invalid NHS number") -> FhirError:
    return FhirError(400, "INVALID_SEARCH_DATA", "invalid", "Invalid search data", diagnostics)


def _precondition(diagnostics: str) -> FhirError:
    return FhirError(400, "PRECONDITION_FAILED", "invalid", "Precondition failed", diagnostics)


def _access_denied(diagnostics: str = "Access has been denied to process this request") -> FhirError:
    return FhirError(403, "ACCESS_DENIED", "forbidden", "Access denied", diagnostics)


def _unauthorised(diagnostics: str) -> FhirError:
    return FhirError(401, "ACCESS_DENIED", "login", "Access denied", diagnostics)


@dataclass
class ApiCall:
    token: ApiToken
    roles: frozenset[str]
    trace_id: str
    unscheduled: bool
    base_url: str


def _base_url(request) -> str:
    return request.build_absolute_uri("/fhir/R4").rstrip("/")


def _bearer_token(request) -> ApiToken:
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise _unauthorised("Missing bearer token")
    token = (
        ApiToken.objects.usable().select_related("user", "organisation").filter(hashed=token_hash(raw.strip())).first()
    )
    if token is None or not token.user.is_active or not token.organisation.is_active:
        raise _unauthorised("Invalid, expired or revoked token")
    return token


def _throttle(token: ApiToken) -> None:
    """A fixed one-minute window per token, counted in the shared cache (Redis)."""
    window = int(timezone.now().timestamp() // 60)
    # Keyed by the token's hash: unique for ever, unlike a row id a test database may reuse.
    key = f"fhir-rate:{token.hashed}:{window}"
    # The limit protects the service; it must never be why a check fails. With Redis down or
    # frozen the call goes through unthrottled (the breaker spares it the socket timeout).
    if cache_breaker.is_open:
        return
    try:
        cache.add(key, 0, timeout=120)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=120)
            count = 1
    except Exception as exc:  # noqa: BLE001 - any cache failure lets the call through
        cache_breaker.failed(exc)
        return
    if count > settings.FHIR_RATE_LIMIT_PER_MINUTE:
        raise FhirError(
            429, "TOO_MANY_REQUESTS", "throttled", "Too many requests", "Rate limit exceeded; retry in a minute"
        )


def _current_roles(token: ApiToken) -> frozenset[str]:
    """The owner's roles at the token's organisation now, if they may still see child data."""
    roles = frozenset(
        Membership.objects.filter(user=token.user, organisation=token.organisation).values_list("role", flat=True)
    )
    if not roles & CHECKING_ROLES:
        raise _access_denied("The token's owner no longer holds a role that may check a child")
    if token.user.current_training() is None:
        raise _access_denied("The token's owner has no current CP-IS training record")
    if not TOTPDevice.objects.filter(user=token.user, confirmed=True).exists():
        raise _access_denied("The token's owner is not enrolled in two-factor authentication")
    return roles


def _token_used(token: ApiToken) -> None:
    # "Last used" is for people reviewing their tokens: to the minute is enough, and it spares
    # every API call a write.
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)


def _unscheduled_header(request) -> bool:
    value = request.headers.get("IsUnscheduledAccessEvent")
    if value is None:
        return True
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise _precondition("Missing or invalid header parameter: IsUnscheduledAccessEvent must be true or false")
    return lowered == "true"


def _patient_nhs_number(request) -> str:
    values = request.GET.getlist("patient:identifier")
    if len(values) != 1:
        raise _invalid_search("Exactly one patient:identifier parameter is required")
    system, bar, value = values[0].partition("|")
    if not bar or system != resources.NHS_NUMBER_SYSTEM:
        raise _invalid_search(f"patient:identifier must be {resources.NHS_NUMBER_SYSTEM}|<NHS number>")
    try:
        return nhs_number_normalise(value)
    except ValidationError:
        raise _invalid_search() from None


def _fhir_response(body: dict, *, status: int = 200, trace_id: str = "") -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type=FHIR_JSON)
    if trace_id:
        response["TraceID"] = trace_id
    response["Cache-Control"] = "no-store"
    return response


def fhir_search(view):
    """Wraps a search: GET only, TraceID, bearer token, rate limit, the access header; answers
    any refusal as an OperationOutcome and audits it."""

    @csrf_exempt
    @login_not_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        trace_id = request.headers.get("TraceID", "")
        token = None
        try:
            if request.method != "GET":
                error = FhirError(
                    405,
                    "METHOD_NOT_ALLOWED",
                    "not-supported",
                    "Method not allowed",
                    f"{request.method} is not supported; use GET",
                )
                response = _error_response(error, trace_id if _TRACE_ID.match(trace_id or "") else "")
                response["Allow"] = "GET"
                return response
            if trace_id and not _TRACE_ID.match(trace_id):
                raise _precondition(
                    "Missing or invalid header parameter: TraceID must be 1 to 64 letters, digits or . _ : -"
                )
            trace_id = trace_id or str(uuid.uuid4())
            token = _bearer_token(request)
            request.user = token.user
            request.organisation = token.organisation
            _throttle(token)
            unscheduled = _unscheduled_header(request)
            roles = _current_roles(token)
            request.roles = roles
            if not unscheduled and not roles & SILENT_READ_ROLES:
                raise _access_denied(
                    "Viewing without notifying (IsUnscheduledAccessEvent: false) needs the safeguarding lead role"
                )
            _token_used(token)
            call = ApiCall(
                token=token, roles=roles, trace_id=trace_id, unscheduled=unscheduled, base_url=_base_url(request)
            )
            return _fhir_response(view(request, call, *args, **kwargs), trace_id=trace_id)
        except FhirError as error:
            audit_record(
                action=AuditAction.FHIR_REQUEST_REFUSED,
                request=request,
                user=token.user if token else None,
                organisation=token.organisation if token else None,
                outcome=AuditOutcome.DENIED if error.status in (401, 403, 429) else AuditOutcome.FAILURE,
                detail={"status": error.status, "code": error.code, "path": request.path},
                trace_id=trace_id if _TRACE_ID.match(trace_id or "") else "",
            )
            return _error_response(error, trace_id if _TRACE_ID.match(trace_id or "") else "")

    return wrapper


def _error_response(error: FhirError, trace_id: str) -> HttpResponse:
    body = resources.operation_outcome(
        code=error.code, issue_type=error.issue_type, display=error.display, diagnostics=error.diagnostics
    )
    return _fhir_response(body, status=error.status, trace_id=trace_id)


def _checking_role(roles: frozenset[str], *, silent: bool) -> str:
    # The role the check is recorded under: a safeguarding lead's silent read needs that role;
    # otherwise the clinician role if held, as the web journey records it.
    if silent or Role.CLINICIAN not in roles:
        return Role.SAFEGUARDING_LEAD
    return Role.CLINICIAN


# Fixed for ever: changing it would let a retry in flight across a release record twice.
_IDEMPOTENCY_NAMESPACE = uuid.UUID("0b6f5a52-2f4e-4c43-9d0c-7d4e7a1c2f10")


def _idempotency_key(request, call: ApiCall, nhs_number: str) -> uuid.UUID | None:
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


@fhir_search
def care_team_search(request, call: ApiCall) -> dict:
    """The check: with IsUnscheduledAccessEvent true, exactly the web journey's (audit, visit,
    notification); false, a silent read (audited only)."""
    nhs_number = _patient_nhs_number(request)
    try:
        result = child_check(
            idempotency_key=_idempotency_key(request, call, nhs_number),
            nhs_number=nhs_number,
            date_of_birth=None,
            arrived_at=timezone.now(),
            user=call.token.user,
            organisation=call.token.organisation,
            role=_checking_role(call.roles, silent=not call.unscheduled),
            notify=call.unscheduled,
            trace_id=call.trace_id,
            request=request,
        )
    except PermissionDenied as exc:
        raise _access_denied(str(exc)) from None
    teams = [resources.care_team(plan, base_url=call.base_url) for plan in result.plans]
    return resources.searchset([(t, "match") for t in teams], base_url=call.base_url, total=len(teams))


@fhir_search
def audit_event_search(request, call: ApiCall) -> dict:
    """The child's access history: at most 25 visits, newest first, only while a plan is visible.

    A read of the history, audited; it records no visit itself (a consumer calls CareTeam for
    the check and AuditEvent for the history; counting both would record each attendance twice).
    """
    nhs_number = _patient_nhs_number(request)
    includes = request.GET.getlist("_include")
    if any(value != resources.INCLUDE_PRACTITIONER_ROLE for value in includes):
        raise _invalid_search(f"The only supported _include is {resources.INCLUDE_PRACTITIONER_ROLE}")
    visits = []
    if Plan.objects.visible().of_subject(nhs_number).exists():
        visits = list(Visit.objects.filter(nhs_number=nhs_number).select_related("care_setting")[:VISITS_KEPT])
    audit_record(
        action=AuditAction.FHIR_ACCESS_HISTORY_READ,
        request=request,
        user=call.token.user,
        organisation=call.token.organisation,
        roles=call.roles,
        nhs_number=nhs_number,
        detail={"visits": len(visits), "unscheduled": call.unscheduled},
        trace_id=call.trace_id,
    )
    entries = [(resources.audit_event(v, base_url=call.base_url), "match") for v in visits]
    if includes:
        labels = dict(Role.choices)
        entries += [
            (resources.practitioner_role(v, role_display=labels.get(v.checked_by_role, v.checked_by_role)), "include")
            for v in visits
        ]
    return resources.searchset(entries, base_url=call.base_url, total=len(visits))


@csrf_exempt
@login_not_required
def metadata(request):
    if request.method != "GET":
        response = _error_response(
            FhirError(405, "METHOD_NOT_ALLOWED", "not-supported", "Method not allowed", "Use GET"), ""
        )
        response["Allow"] = "GET"
        return response
    return _fhir_response(resources.capability_statement(base_url=_base_url(request)))


@csrf_exempt
@login_not_required
def unknown_resource(request, resource: str):
    error = FhirError(404, "NO_RECORD_FOUND", "not-found", "Not found", f"Unknown resource or interaction: {resource}")
    return _error_response(error, "")
