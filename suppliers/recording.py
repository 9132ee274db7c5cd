"""Every request made under a conformance run's token, recorded as it arrived with the answer
it got; and the one 503 the outage scenario injects (its first request, once)."""

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from attendances.models import Visit
from core.tokens import token_hash
from fhir.api.outcomes import error_response
from fhir.ids import Kind, fhir_id_key
from fhir.interactions import FhirError
from fhir.models import TOKEN_PREFIX
from plans.models import Plan
from suppliers.conformance import TOKEN_MARKER
from suppliers.models import ConformanceRequest, ConformanceRun, RunState
from suppliers.scenarios import BY_KEY

FHIR_BASE = "/fhir/R4/"
_MARKED = TOKEN_PREFIX + TOKEN_MARKER
_PLAN_KINDS = (Kind.CARE_TEAM, Kind.FLAG, Kind.CARE_PLAN, Kind.FLAG_CARE_TEAM)
_VISIT_KINDS = (Kind.AUDIT_EVENT, Kind.PRACTITIONER_ROLE)


def bearer_value(request: HttpRequest) -> str:
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    return raw.strip() if scheme.lower() == "bearer" else ""


def marked(raw: str) -> bool:
    """Whether a token may be a conformance run's: a string comparison, so every other API call
    pays nothing for the recording."""
    return raw.startswith(_MARKED)


def run_of_token(raw: str) -> tuple[ConformanceRun, str] | None:
    """The open run whose token this is, and which of its two ("clinician" or "lead")."""
    hashed = token_hash(raw)
    run = (
        ConformanceRun.objects.filter(Q(clinician_token__hashed=hashed) | Q(lead_token__hashed=hashed))
        .filter(state=RunState.OPEN)
        .select_related("clinician_token")
        .first()
    )
    if run is None:
        return None
    return run, "clinician" if run.clinician_token.hashed == hashed else "lead"


def request_subject(request: HttpRequest) -> str:
    """The NHS number (or whatever stands in its place) a request names: the search's patient
    parameter, or the child behind a read's id. "" when it names none."""
    for name in ("patient:identifier", "patient"):
        values = request.GET.getlist(name)
        if values:
            return values[0].rpartition("|")[2][:60]
    parts = request.path[len(FHIR_BASE) :].split("/")
    if len(parts) == 2:
        decoded = fhir_id_key(parts[1], _PLAN_KINDS + _VISIT_KINDS)
        if decoded is not None:
            kind, pk = decoded
            model = Plan if kind in _PLAN_KINDS else Visit
            return model.objects.filter(pk=pk).values_list("nhs_number", flat=True).first() or ""
    return ""


def scenario_of(run: ConformanceRun, subject: str) -> str:
    for key, number in run.numbers.items():
        if subject and subject == number:
            return key
    return ""


def _inject_outage(run: ConformanceRun) -> bool:
    """True for the one request that gets the run's 503: the first of the outage scenario."""
    return bool(ConformanceRun.objects.filter(pk=run.pk, injected_at__isnull=True).update(injected_at=timezone.now()))


def outage_response(run: ConformanceRun, trace_id: str) -> HttpResponse:
    error = FhirError(
        503,
        "SERVICE_UNAVAILABLE",
        "transient",
        "Service unavailable",
        "Conformance run: the service is unavailable (injected once); retry after the Retry-After seconds",
    )
    error.headers["Retry-After"] = str(run.retry_after_seconds)
    return error_response(error, trace_id)


def recorded_call(request: HttpRequest, run: ConformanceRun, token_role: str, answer) -> HttpResponse:
    """Answers the request (`answer(request)`, or the injected 503) and records both."""
    subject = request_subject(request)
    scenario = scenario_of(run, subject)
    trace_id = request.headers.get("TraceID")
    injected = bool(scenario and BY_KEY[scenario].outage and _inject_outage(run))
    response = outage_response(run, (trace_id or "")[:200]) if injected else answer(request)
    ConformanceRequest.objects.create(
        run=run,
        token_role=token_role,
        method=request.method or "",
        path=request.path[:300].replace("\x00", "?"),
        query=request.META.get("QUERY_STRING", "")[:2000].replace("\x00", "?"),
        trace_id=None if trace_id is None else trace_id[:300].replace("\x00", "?"),
        unscheduled=_header(request, "IsUnscheduledAccessEvent"),
        accept=_header(request, "Accept"),
        status=response.status_code,
        injected=injected,
        scenario=scenario,
        subject=subject.replace("\x00", "?"),
    )
    return response


def _header(request: HttpRequest, name: str) -> str | None:
    value = request.headers.get(name)
    return None if value is None else value[:300].replace("\x00", "?")
