"""The FHIR R4 API, compatible with the national CP-IS FHIR API (a thin layer over the check).

Every call answers `application/fhir+json; fhirVersion=4.0`, echoes the caller's TraceID, and
is audited: a check through the same `child_check` service as the web journey, a history read
as FHIR_ACCESS_HISTORY_READ, anything refused as FHIR_REQUEST_REFUSED with the reason. How
requests are read (format, paging, includes) is in `fhir.interactions`; the resources' shapes
in `fhir.representations`; the rules in docs/fhir.md.
"""

import json
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, Q, When
from django.http import HttpResponse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.views.decorators.csrf import csrf_exempt

from accounts.access import TWO_FACTOR_NOT_SET_UP, child_data_gate, user_memberships
from accounts.models import User
from accounts.second_factors import second_factor_q
from attendances.models import Visit
from attendances.services import (
    CHECKING_ROLES,
    SILENT_READ_ROLES,
    CheckFormExpired,
    checking_role,
    child_check,
    child_history,
)
from audit.models import AuditAction, AuditOutcome
from audit.models import AuditEvent as AuditLogEntry
from audit.services import audit_record, client_ip
from core.compiled_queries import CompiledQuerySet
from core.nhs_numbers import nhs_number_normalise
from core.tokens import token_hash
from core.trace_ids import TRACE_ID
from cpis.resilience import OUTAGE_RETRY_AFTER_SECONDS, is_outage
from fhir import capabilities, throttles
from fhir import interactions as http
from fhir import representations as resources
from fhir.ids import Kind, fhir_id_key
from fhir.interactions import FhirError
from fhir.models import ApiToken
from plans.models import Plan

FHIR_JSON = http.FHIR_JSON


def _invalid_search(diagnostics: str = "Invalid NHS number") -> FhirError:
    return FhirError(400, "INVALID_SEARCH_DATA", "invalid", "Invalid search data", diagnostics)


def _precondition(diagnostics: str) -> FhirError:
    return FhirError(400, "PRECONDITION_FAILED", "invalid", "Precondition failed", diagnostics)


ACCESS_DENIED_DISPLAY = "Access has been denied to process this request"


def _access_denied(diagnostics: str = ACCESS_DENIED_DISPLAY) -> FhirError:
    return FhirError(403, "ACCESS_DENIED", "forbidden", ACCESS_DENIED_DISPLAY, diagnostics)


_REALM = "CP-IS FHIR API"


def _unauthorised(diagnostics: str, *, token_presented: bool) -> FhirError:
    error = FhirError(401, "ACCESS_DENIED", "login", ACCESS_DENIED_DISPLAY, diagnostics)
    # RFC 6750 section 3: the scheme to use, and an error code only when a token was sent.
    error.headers["WWW-Authenticate"] = (
        f'Bearer realm="{_REALM}", error="invalid_token"' if token_presented else f'Bearer realm="{_REALM}"'
    )
    return error


def _not_found(diagnostics: str) -> FhirError:
    return FhirError(404, "NO_RECORD_FOUND", "not-found", "No record found", diagnostics)


def _method_not_allowed(method: str) -> FhirError:
    return FhirError(
        405, "METHOD_NOT_ALLOWED", "not-supported", "Method not allowed", f"{method} is not supported; use GET"
    )


@dataclass
class ApiCall:
    token: ApiToken
    roles: frozenset[str]
    trace_id: str
    unscheduled: bool
    base_url: str


def _base_url(request) -> str:
    return request.build_absolute_uri("/fhir/R4").rstrip("/")


# Read on every call: compiled to SQL once per process (core/compiled_queries.py).
_usable_tokens = CompiledQuerySet(
    lambda hashed, now: ApiToken.objects.usable(now=now).select_related("user", "organisation").filter(hashed=hashed),
    placeholders={"hashed": str, "now": datetime},
)
# A token cannot present a code: its owner's enrolment stands for it, an authenticator app or a
# passkey (accounts/second_factors.py); a provider's assurance proves nothing outside its sign-in.
_enrolled_users = CompiledQuerySet(
    lambda user_id: User.objects.filter(pk=user_id).filter(second_factor_q(passkeys=True)).only("id")[:1],
    placeholders={"user_id": int},
)


def _bearer_token(request) -> ApiToken:
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise _unauthorised("Missing bearer token", token_presented=False)
    # Looked up first, whatever the invalid-token counters say: a valid token always goes
    # through, so one stale token cannot lock out the others sent from the same address.
    found = _usable_tokens(hashed=token_hash(raw.strip()), now=timezone.now())
    token = found[0] if found else None
    if token is None or not token.user.is_active or not token.organisation.is_active:
        retry_after = throttles.bad_token_refused(address=client_ip(request), presented=raw.strip())
        if retry_after is not None:
            raise _too_many("Too many invalid tokens (this one, or from this address); retry later", retry_after)
        raise _unauthorised("Invalid, expired or revoked token", token_presented=True)
    return token


def _too_many(diagnostics: str, retry_after: int) -> FhirError:
    error = FhirError(429, "TOO_MANY_REQUESTS", "throttled", "Too many requests", diagnostics)
    error.headers["Retry-After"] = str(retry_after)
    return error


def _throttle(token: ApiToken) -> None:
    """A fixed one-minute window per user: all of a user's tokens share it (fhir/throttles.py)."""
    retry_after = throttles.user_rate_exceeded(token.user)
    if retry_after is not None:
        raise _too_many("Rate limit exceeded; retry in a minute", retry_after)


def _current_roles(token: ApiToken) -> frozenset[str]:
    """The owner's roles at the token's organisation now, if they may still see child data."""
    # The web's own read of the sign-in state: roles, and whether training is current, at once.
    memberships = [m for m in user_memberships(user_id=token.user_id) if m.organisation_id == token.organisation_id]
    roles = frozenset(m.role for m in memberships)
    if not roles & CHECKING_ROLES:
        raise _access_denied("The token's owner no longer holds a role that may check a child")
    enrolled = bool(_enrolled_users(user_id=token.user_id))
    gate = child_data_gate(
        token.user, two_factor_missing=None if enrolled else TWO_FACTOR_NOT_SET_UP, trained=memberships[0].user_trained
    )
    if not gate.passed:
        raise _access_denied(f"The token's owner may not see child data: {' '.join(gate.missing)}")
    return roles


def _token_used(token: ApiToken) -> None:
    # "Last used" is for people reviewing their tokens: to the minute is enough, and it spares
    # every API call a write.
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)


# The national Headers page names it IsUnscheduledAccessEvent, and once IsUnscheduledEvent:
# both are read, so an EPR written to either sentence is understood.
_UNSCHEDULED_HEADERS = ("IsUnscheduledAccessEvent", "IsUnscheduledEvent")


def _unscheduled_header(request) -> bool:
    """True (a check) unless the access header says false; both spellings given and different is 400."""
    values = set()
    for name in _UNSCHEDULED_HEADERS:
        value = request.headers.get(name)
        if value is None:
            continue
        lowered = value.strip().lower()
        if lowered not in ("true", "false"):
            raise _precondition(f"Missing or invalid header parameter: {name} must be true or false")
        values.add(lowered)
    if len(values) > 1:
        raise _precondition(
            "Invalid header parameters: IsUnscheduledAccessEvent and IsUnscheduledEvent disagree; send one"
        )
    return values != {"false"}


def _nhs_number(value: str) -> str:
    try:
        return nhs_number_normalise(value)
    except ValidationError:
        raise _invalid_search() from None


def _patient_nhs_number(request) -> str:
    values = request.GET.getlist("patient:identifier")
    if len(values) != 1:
        raise _invalid_search("Exactly one patient:identifier parameter is required")
    system, bar, value = values[0].partition("|")
    if not bar or system != resources.NHS_NUMBER_SYSTEM:
        raise _invalid_search(f"patient:identifier must be {resources.NHS_NUMBER_SYSTEM}|<NHS number>")
    return _nhs_number(value)


def _fhir_response(body: dict, *, status: int = 200, trace_id: str = "", content_type: str = FHIR_JSON) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type=http.content_type_header(content_type))
    if trace_id:
        response["TraceID"] = trace_id
    response["Cache-Control"] = "no-store"
    return response


def fhir_search(view=None, *, silent_only: bool = False):
    """Wraps an interaction (search or read): GET only, the format asked for, TraceID, bearer
    token, rate limit, the access header; answers any refusal as an OperationOutcome and audits it.

    `silent_only`: the interaction is a view without notifying by definition (the Patient Flag
    API), whatever IsUnscheduledAccessEvent says, so only roles that may silently read call it.
    """
    if view is None:
        return lambda view: fhir_search(view, silent_only=silent_only)

    @csrf_exempt
    @login_not_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        trace_id = request.headers.get("TraceID", "")
        token = None
        try:
            http.refuse_long_query(request)
            if request.method != "GET":
                response = _error_response(
                    _method_not_allowed(request.method), trace_id if TRACE_ID.match(trace_id or "") else ""
                )
                response["Allow"] = "GET"
                return response
            content_type = http.response_content_type(request)
            if trace_id and not TRACE_ID.match(trace_id):
                raise _precondition(
                    "Missing or invalid header parameter: TraceID must be 1 to 200 printable characters, no spaces"
                )
            trace_id = trace_id or str(uuid.uuid4())
            token = _bearer_token(request)
            request.user = token.user
            request.organisation = token.organisation
            _throttle(token)
            unscheduled = False if silent_only else _unscheduled_header(request)
            roles = _current_roles(token)
            request.roles = roles
            if silent_only and not roles & SILENT_READ_ROLES:
                raise _access_denied(
                    "The Patient Flag API views without notifying: it needs the safeguarding lead role"
                )
            if not unscheduled and not roles & SILENT_READ_ROLES:
                raise _access_denied(
                    "Viewing without notifying (IsUnscheduledAccessEvent: false) needs the safeguarding lead role"
                )
            _token_used(token)
            call = ApiCall(
                token=token, roles=roles, trace_id=trace_id, unscheduled=unscheduled, base_url=_base_url(request)
            )
            body = view(request, call, *args, **kwargs)
            return _fhir_response(body, trace_id=trace_id, content_type=content_type)
        except FhirError as error:
            audit_record(
                action=AuditAction.FHIR_REQUEST_REFUSED,
                request=request,
                user=token.user if token else None,
                organisation=token.organisation if token else None,
                nhs_number=error.nhs_number,
                outcome=AuditOutcome.DENIED if error.status in (401, 403, 429) else AuditOutcome.FAILURE,
                # PostgreSQL's JSON refuses NUL, which a path may carry (%00); the rest is kept as sent.
                detail={"status": error.status, "code": error.code, "path": request.path[:300].replace("\x00", "?")},
                trace_id=trace_id if TRACE_ID.match(trace_id or "") else "",
            )
            return _error_response(error, trace_id if TRACE_ID.match(trace_id or "") else "")

    return wrapper


def _error_response(error: FhirError, trace_id: str) -> HttpResponse:
    body = resources.operation_outcome(
        code=error.code, issue_type=error.issue_type, display=error.display, diagnostics=error.diagnostics
    )
    response = _fhir_response(body, status=error.status, trace_id=trace_id)
    for name, value in error.headers.items():
        response[name] = value
    return response


def _check(request, call: ApiCall, nhs_number: str, *, silent: bool, idempotency_key: uuid.UUID | None = None):
    """The check (or, `silent`, the view without notifying), through the web journey's service."""

    def check(key: uuid.UUID | None):
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
            return check(idempotency_key)
        except CheckFormExpired:
            # The TraceID named a check of this child from before the episode window (the same
            # day, with NOTIFICATION_EPISODE_HOURS under 24): not a retry, a new attendance.
            return check(uuid.uuid4())
    except PermissionDenied as exc:
        raise _access_denied(str(exc)) from None


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


def _read_episode_key(request, call: ApiCall, nhs_number: str) -> uuid.UUID:
    """The check a CareTeam read by id belongs to, so the read records no second visit and no
    second notification (issue 24 item 10; docs/fhir.md "Read by id"):

    1. the check this read's TraceID made (the same key as the search's: same user,
       organisation, child and day), however long ago that day;
    2. else this user's latest check of this child at this organisation within
       FHIR_READ_EPISODE_MINUTES (an EPR that sends a new TraceID with every request);
    3. else none: the read is a check of its own (under its TraceID's key, so its retry is not).
    """
    traced = _idempotency_key(request, call, nhs_number)
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


# A CareTeam search's next and previous links carry the check they page through, so following
# them records no second visit: signed, for this token and child only, for an hour. The child is
# named by a keyed hash: a signed value is readable, and URLs end up in places logs reach.
_PAGE_SALT = "fhir.care-team-pages"
_PAGE_MAX_AGE = 60 * 60


def _page_child(nhs_number: str) -> str:
    return salted_hmac(_PAGE_SALT, nhs_number).hexdigest()[:20]


def _page_check_key(request, call: ApiCall, nhs_number: str) -> uuid.UUID | None:
    values = request.GET.getlist("check")
    if not values:
        return None
    try:
        key, token_id, number = signing.loads(values[0], salt=_PAGE_SALT, max_age=_PAGE_MAX_AGE)
        if len(values) != 1 or token_id != call.token.pk or number != _page_child(nhs_number):
            raise signing.BadSignature
        return uuid.UUID(key)
    except (signing.BadSignature, TypeError, ValueError):
        raise http.invalid_parameter(
            "The check parameter is not from this token's recent search of this child"
        ) from None


@fhir_search
def care_team_search(request, call: ApiCall) -> dict:
    """The check: with IsUnscheduledAccessEvent true, exactly the web journey's (audit, visit,
    notification); false, a silent read (audited only). Paged by `_count` and `_offset`."""
    search = http.search_read(
        request, "CareTeam", params=frozenset({"patient:identifier"}), private=frozenset({"check"})
    )
    nhs_number = _patient_nhs_number(request)
    key = None
    if call.unscheduled:
        # A page link's own check; else the client's TraceID (a retry records no second visit).
        key = _page_check_key(request, call, nhs_number) or _idempotency_key(request, call, nhs_number) or uuid.uuid4()
    result = _check(request, call, nhs_number, silent=not call.unscheduled, idempotency_key=key)
    plans = result.plans
    extra = []
    if key is not None and len(plans) > search.count:
        extra = [("check", signing.dumps([str(key), call.token.pk, _page_child(nhs_number)], salt=_PAGE_SALT))]
    entries = [(resources.care_team(plan), "match") for plan in search.page(plans)]
    return resources.searchset(
        entries,
        base_url=call.base_url,
        total=len(plans),
        links=search.links(call.base_url, total=len(plans), extra=extra),
    )


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


def _history(request, call: ApiCall, nhs_number: str, *, visit_id: int | None = None) -> list[Visit]:
    """The child's access history (at most 25 visits, newest first, only while a plan is
    visible), audited. Refused as an unscheduled access without a recent check of the child."""
    if call.unscheduled and not _checked_recently(call, nhs_number):
        error = _access_denied(
            "Reading the access history as an unscheduled access needs a check of this child by you, "
            "at this organisation, within the attendance episode; check the child first (CareTeam)"
        )
        error.nhs_number = nhs_number
        raise error
    visits = child_history(nhs_number)
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


@fhir_search
def audit_event_search(request, call: ApiCall) -> dict:
    """The child's access history: at most 25 visits, newest first, only while a plan is visible,
    each followed by its PractitionerRole (`search.mode: include`).

    The PractitionerRoles come with or without `_include`: NHS England's example answers the
    plain search with them, and its data mapping reads who viewed (name, role, organisation)
    from them, so an EPR written to the guide asks for none and still needs them.

    A read of the history, audited; it records no visit itself (a consumer calls CareTeam for
    the check and AuditEvent for the history; counting both would record each attendance twice).
    """
    search = http.search_read(
        request,
        "AuditEvent",
        params=frozenset({"patient:identifier"}),
        includes=http.PRACTITIONER_ROLE_INCLUDES,
    )
    nhs_number = _patient_nhs_number(request)
    visits = _history(request, call, nhs_number)
    page = search.page(visits)
    entries = [(resources.audit_event(v), "match") for v in page]
    entries += [(resources.practitioner_role(v), "include") for v in page]
    return resources.searchset(
        entries, base_url=call.base_url, total=len(visits), links=search.links(call.base_url, total=len(visits))
    )


def _flag_nhs_number(request) -> str:
    values = request.GET.getlist("patient")
    if len(values) != 1:
        raise _invalid_search("Exactly one patient parameter (the NHS number) is required")
    value = values[0]
    system, bar, number = value.partition("|")
    if bar:
        if system != resources.NHS_NUMBER_SYSTEM:
            raise _invalid_search(f"patient must be an NHS number or {resources.NHS_NUMBER_SYSTEM}|<NHS number>")
        value = number
    return _nhs_number(value)


def _asks_for_cpis_flag(request) -> bool:
    codes = [code for value in request.GET.getlist("code") for code in value.split(",")]
    if not codes:
        return True
    cpis = {resources.CPIS_FLAG_CODE, f"{resources.FLAG_CATEGORY_SYSTEM}|{resources.CPIS_FLAG_CODE}"}
    return any(code.strip() in cpis for code in codes)


@fhir_search(silent_only=True)
def patient_flag_search(request, call: ApiCall) -> dict:
    """NHS England's Patient Flag API for scheduled care: per visible plan a Flag (match) with
    its CarePlan and the local authority's CareTeam (include). A view without notifying by
    definition: audited, no visit, no notification."""
    path = request.path.rsplit("/", 1)[-1]
    search = http.search_read(request, path, params=frozenset({"patient", "code"}))
    nhs_number = _flag_nhs_number(request)
    # We hold CP-IS flags only: asked for other flags, there is nothing to read, so nothing is.
    plans = _check(request, call, nhs_number, silent=True).plans if _asks_for_cpis_flag(request) else []
    entries = []
    for plan in search.page(plans):
        entries += [
            (resources.flag(plan), "match"),
            (resources.care_plan(plan), "include"),
            (resources.flag_care_team(plan), "include"),
        ]
    return resources.searchset(
        entries, base_url=call.base_url, total=len(plans), links=search.links(call.base_url, total=len(plans))
    )


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
        raise _not_found(f"No {resource} with that id")
    kind, pk = decoded
    # Each id is looked up inside what the API may show (a visit of a child a plan still
    # shares; a visible plan), so one outside it answers exactly as one that never existed:
    # no check, no history read, no refusal that only an existing record could earn.
    if kind in (Kind.AUDIT_EVENT, Kind.PRACTITIONER_ROLE):
        shared = Plan.objects.visible().values("nhs_number")
        visit = Visit.objects.filter(pk=pk, nhs_number__in=shared).only("nhs_number").first()
        if visit is None:
            raise _not_found(f"No {resource} with that id")
        visits = [v for v in _history(request, call, visit.nhs_number, visit_id=pk) if v.pk == pk]
        if not visits:
            raise _not_found(f"No {resource} with that id")
        if kind == Kind.AUDIT_EVENT:
            return resources.audit_event(visits[0])
        return resources.practitioner_role(visits[0])
    silent = kind in _FLAG_KINDS or not call.unscheduled
    if kind in _FLAG_KINDS and not call.roles & SILENT_READ_ROLES:
        raise _access_denied("The Patient Flag API views without notifying: it needs the safeguarding lead role")
    plan = Plan.objects.visible().filter(pk=pk).only("nhs_number").first()
    if plan is None:
        raise _not_found(f"No {resource} with that id")
    key = None if silent else _read_episode_key(request, call, plan.nhs_number)
    result = _check(request, call, plan.nhs_number, silent=silent, idempotency_key=key)
    visible = [p for p in result.plans if p.pk == pk]
    if not visible:
        raise _not_found(f"No {resource} with that id")
    return _REPRESENT_PLAN[kind](visible[0])


@csrf_exempt
@login_not_required
def metadata(request):
    try:
        http.refuse_long_query(request)
        if request.method != "GET":
            response = _error_response(_method_not_allowed(request.method), "")
            response["Allow"] = "GET"
            return response
        content_type = http.response_content_type(request)
    except FhirError as error:
        return _error_response(error, "")
    return _fhir_response(capabilities.capability_statement(base_url=_base_url(request)), content_type=content_type)


@csrf_exempt
@login_not_required
def unknown_resource(request, resource: str):
    """Anything else under the base, whatever the method: an OperationOutcome, never a page."""
    try:
        http.refuse_long_query(request)
    except FhirError as too_long:
        return _error_response(too_long, "")
    return _error_response(_not_found(f"Unknown resource or interaction: {request.path}"), "")


def server_error(request) -> HttpResponse:
    """Django's handler500 under the base (cpis/urls.py): what crashed, anywhere from the first
    middleware to the view, answered as FHIR. The database or Redis unreachable is a 503 with
    Retry-After, which an EPR retries; anything else a 500. Touches neither: both may be down."""
    trace_id = request.headers.get("TraceID", "")
    if is_outage(sys.exception()):
        error = FhirError(
            503,
            "SERVICE_UNAVAILABLE",
            "transient",
            "Service unavailable",
            "The service cannot reach its database or cache just now; retry after the Retry-After seconds",
        )
        error.headers["Retry-After"] = str(OUTAGE_RETRY_AFTER_SECONDS)
    else:
        error = FhirError(
            500,
            "INTERNAL_SERVER_ERROR",
            "exception",
            "Unexpected internal server error",
            "Unexpected internal server error; it has been logged",
        )
    return _error_response(error, trace_id if TRACE_ID.match(trace_id) else "")


def bad_request(request, exception=None) -> HttpResponse:
    """Django's handler400 under the base: a request Django refuses before any view (more
    parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS, a host not allowed), answered as FHIR."""
    error = http.invalid_parameter("The request could not be read: too many parameters, or a malformed request")
    trace_id = request.headers.get("TraceID", "")
    return _error_response(error, trace_id if TRACE_ID.match(trace_id) else "")
