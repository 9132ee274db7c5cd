"""What every interaction passes before it runs (`fhir_search`): GET only, the format asked
for, the TraceID, the bearer token, the rate limit, the access header and the owner's roles
now; any refusal answered as an OperationOutcome and audited as FHIR_REQUEST_REFUSED."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from accounts.access import TWO_FACTOR_NOT_SET_UP, child_data_gate, user_memberships
from accounts.models import User
from accounts.second_factors import second_factor_q
from accounts.signed_in import SIGNED_IN_KEY, kept_for, memberships_copied, signed_in_version_of
from attendances.services import CHECKING_ROLES, SILENT_READ_ROLES
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record, client_ip
from core.compiled_queries import CompiledQuerySet
from core.tokens import token_hash
from core.trace_ids import TRACE_ID
from fhir import interactions as http
from fhir import throttles
from fhir.api.outcomes import (
    access_denied,
    error_response,
    fhir_response,
    method_not_allowed,
    precondition,
    too_many,
    unauthorised,
)
from fhir.interactions import FhirError
from fhir.models import ApiToken


@dataclass
class ApiCall:
    token: ApiToken
    roles: frozenset[str]
    trace_id: str
    unscheduled: bool
    base_url: str


def base_url(request) -> str:
    return request.build_absolute_uri("/fhir/R4").rstrip("/")


# Read on every call: compiled to SQL once per process (core/compiled_queries.py).
# With its owner's signed-in state's version, under which the owner's memberships and enrolment
# are kept (accounts/signed_in.py), as a web session's are.
_usable_tokens = CompiledQuerySet(
    lambda hashed, now: (
        ApiToken.objects.usable(now=now)
        .select_related("user", "organisation")
        .filter(hashed=hashed)
        .annotate(signed_in_version=signed_in_version_of("user_id"))
    ),
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
        raise unauthorised("Missing bearer token", token_presented=False)
    # Looked up first, whatever the invalid-token counters say: a valid token always goes
    # through, so one stale token cannot lock out the others sent from the same address.
    found = _usable_tokens(hashed=token_hash(raw.strip()), now=timezone.now())
    token = found[0] if found else None
    if token is not None:
        setattr(token.user, SIGNED_IN_KEY, (f"token {token.pk}", token.signed_in_version))
    if token is None or not token.user.is_active or not token.organisation.is_active:
        retry_after = throttles.bad_token_refused(address=client_ip(request), presented=raw.strip())
        if retry_after is not None:
            raise too_many("Too many invalid tokens (this one, or from this address); retry later", retry_after)
        raise unauthorised("Invalid, expired or revoked token", token_presented=True)
    return token


def _throttle(token: ApiToken) -> None:
    """A fixed one-minute window per user: all of a user's tokens share it (fhir/throttles.py)."""
    retry_after = throttles.user_rate_exceeded(token.user)
    if retry_after is not None:
        raise too_many("Rate limit exceeded; retry in a minute", retry_after)


def _current_roles(token: ApiToken) -> frozenset[str]:
    """The owner's roles at the token's organisation now, if they may still see child data."""
    # The web's own read of the sign-in state: roles, and whether training is current, at once.
    today = timezone.localdate()
    every = kept_for(
        token.user,
        "memberships",
        today,
        lambda: user_memberships(user_id=token.user_id, today=today),
        memberships_copied,
    )
    memberships = [m for m in every if m.organisation_id == token.organisation_id]
    roles = frozenset(m.role for m in memberships)
    if not roles & CHECKING_ROLES:
        raise access_denied("The token's owner no longer holds a role that may check a child")
    enrolled = kept_for(token.user, "enrolled", None, lambda: bool(_enrolled_users(user_id=token.user_id)), bool)
    gate = child_data_gate(
        token.user, two_factor_missing=None if enrolled else TWO_FACTOR_NOT_SET_UP, trained=memberships[0].user_trained
    )
    if not gate.passed:
        raise access_denied(f"The token's owner may not see child data: {' '.join(gate.missing)}")
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
            raise precondition(f"Missing or invalid header parameter: {name} must be true or false")
        values.add(lowered)
    if len(values) > 1:
        raise precondition(
            "Invalid header parameters: IsUnscheduledAccessEvent and IsUnscheduledEvent disagree; send one"
        )
    return values != {"false"}


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
                response = error_response(
                    method_not_allowed(request.method), trace_id if TRACE_ID.match(trace_id or "") else ""
                )
                response["Allow"] = "GET"
                return response
            content_type = http.response_content_type(request)
            if trace_id and not TRACE_ID.match(trace_id):
                raise precondition(
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
                raise access_denied("The Patient Flag API views without notifying: it needs the safeguarding lead role")
            if not unscheduled and not roles & SILENT_READ_ROLES:
                raise access_denied(
                    "Viewing without notifying (IsUnscheduledAccessEvent: false) needs the safeguarding lead role"
                )
            _token_used(token)
            call = ApiCall(
                token=token, roles=roles, trace_id=trace_id, unscheduled=unscheduled, base_url=base_url(request)
            )
            body = view(request, call, *args, **kwargs)
            return fhir_response(body, trace_id=trace_id, content_type=content_type)
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
            return error_response(error, trace_id if TRACE_ID.match(trace_id or "") else "")

    return wrapper
