"""Who may do what: the current organisation, roles and the trained-user gate.

Every view that shows child data goes through `role_required`, which also applies the gate.
Object-level access (own organisation versus another) lives in each app's access helpers,
which filter by `request.organisation` and answer 404 for anything else.
"""

from dataclasses import dataclass, field
from functools import wraps
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, cast

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils import timezone

from accounts.models import CHILD_DATA_ROLES, Membership, Organisation, Role, TrainingRecord, User
from accounts.passkeys import passkeys_of
from accounts.requests import CpisRequest, SignedInRequest
from accounts.signed_in import kept_for, memberships_copied
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record, refused_url_detail
from core.compiled_queries import CompiledQuerySet
from core.formatting import date_format


class _Trained(TypedDict):
    user_trained: bool


if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    # A membership read by `user_memberships`: annotated with whether its user's training is current.
    TrainedMembership = WithAnnotations[Membership, _Trained]
    from django_otp_webauthn.models import WebAuthnCredential

SESSION_ORGANISATION_KEY = "organisation_id"


def _memberships(user_id: int, today):
    current_training = TrainingRecord.objects.filter(user=OuterRef("user_id"), expires_on__gte=today)
    return (
        Membership.objects.filter(user_id=user_id, organisation__is_active=True)
        .select_related("organisation")
        # Read in the same query because the gate needs it on every child-data page.
        .annotate(user_trained=Exists(current_training))
    )


# Read on every page: compiled to SQL once per process (and day), core/compiled_queries.py.
_memberships_compiled = CompiledQuerySet(_memberships, placeholders={"user_id": int}, vary_on=("today",))


def user_memberships(*, user_id: int, today=None) -> "list[TrainedMembership]":
    """The user's memberships at active organisations, each with its organisation and with
    `user_trained` (whether the user's CP-IS training is current `today`): what the web's
    pages and the FHIR API's calls both read before anything else."""
    return _memberships_compiled(user_id=user_id, today=today or timezone.localdate())


def current_organisation_load(request: CpisRequest) -> None:
    """Sets request.organisation (or None) and request.roles (a frozenset of role values).

    A user with one organisation works for it; a user with several picks one after login.
    """
    request.organisation = None
    request.roles = frozenset()
    request.user_organisations = []
    # Whether the user's CP-IS training is current today (None: not known, ask the database).
    request.user_trained = None
    user = request.user
    if not user.is_authenticated:
        return
    today = timezone.localdate()
    # Kept with the session's signed-in state (accounts/signed_in.py), under the day too: the
    # training that is current today may not be tomorrow.
    memberships = kept_for(
        user, "memberships", today, lambda: user_memberships(user_id=user.pk, today=today), memberships_copied
    )
    if memberships:
        request.user_trained = memberships[0].user_trained
    organisations = {m.organisation_id: m.organisation for m in memberships}
    chosen = request.session.get(SESSION_ORGANISATION_KEY)
    if chosen not in organisations and len(organisations) == 1:
        chosen = next(iter(organisations))
    if chosen in organisations:
        request.organisation = organisations[chosen]
        request.roles = frozenset(m.role for m in memberships if m.organisation_id == chosen)
    request.user_organisations = sorted(organisations.values(), key=lambda o: o.name)


@dataclass
class GateResult:
    missing: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.missing


TWO_FACTOR_NOT_USED = "You have not used two-factor authentication at this sign-in."
TWO_FACTOR_NOT_SET_UP = "Two-factor authentication is not set up for this account."


def child_data_gate(user: User, *, two_factor_missing: str | None, trained: bool | None = None) -> GateResult:
    """What stops `user` seeing child data now, in words they can act on: the one rule behind the
    web's pages and the FHIR API. Each says how the second factor is shown (`two_factor_missing`
    is None when it is): a page by its use at this sign-in, a token (which cannot present a code)
    by the owner's enrolment. `trained` is the training already read with the memberships, if so."""
    result = GateResult()
    if not user.is_active:
        result.missing.append("Your account is not active.")
    if two_factor_missing:
        result.missing.append(two_factor_missing)
    if trained is None:
        trained = user.current_training(today=timezone.localdate()) is not None
    if not trained:
        last = user.training_records.order_by("-expires_on").first()
        if last is None:
            result.missing.append("There is no record of your CP-IS training.")
        else:
            result.missing.append(f"Your CP-IS training expired on {date_format(last.expires_on)}.")
    return result


class _OTPVerifiable(Protocol):
    def is_verified(self) -> bool: ...


def trained_user_gate(request: CpisRequest) -> GateResult:
    """The gate for a signed-in person: the second factor must have been used at this sign-in."""
    # Asked only of a request holding roles, so signed in. django-otp's OTPMiddleware adds
    # `is_verified` to the user at run time, and django-otp ships no types.
    user = cast(User, request.user)
    return child_data_gate(
        user,
        two_factor_missing=None if cast(_OTPVerifiable, user).is_verified() else TWO_FACTOR_NOT_USED,
        trained=getattr(request, "user_trained", None),
    )


def organisation_admins(organisation: Organisation | None) -> list[User]:
    if organisation is None:
        return []
    return list(
        User.objects.filter(
            is_active=True, memberships__organisation=organisation, memberships__role=Role.ORG_ADMIN
        ).distinct()
    )


def gate_response(request: CpisRequest, gate: GateResult) -> TemplateResponse:
    audit_record(
        action=AuditAction.GATE_REFUSED,
        request=request,
        outcome=AuditOutcome.DENIED,
        detail={"path": request.path, "missing": gate.missing, **refused_url_detail(request)},
    )
    return TemplateResponse(
        request,
        "accounts/gate.jinja",
        {"gate": gate, "admins": organisation_admins(request.organisation)},
        status=403,
    )


def needs_gate(held: frozenset[str]) -> bool:
    """Whether using a view through these held roles shows child data, so the gate applies."""
    return bool(held & CHILD_DATA_ROLES)


def _organisation_allowed(request: CpisRequest, *, local_authority_only: bool) -> bool:
    organisation = getattr(request, "organisation", None)
    return not local_authority_only or (organisation is not None and organisation.is_local_authority)


def may_use(request: CpisRequest, allowed: frozenset[str], *, local_authority_only: bool = False) -> bool:
    """The answer `role_required(*allowed)` would give this request, without refusing or
    auditing: the navigation asks it, so no link leads to a refusal or the gate."""
    held = request.roles & allowed
    if not held or not _organisation_allowed(request, local_authority_only=local_authority_only):
        return False
    return not needs_gate(held) or trained_user_gate(request).passed


class RoleGuardedView(Protocol):
    """A view `role_required` wraps: the navigation reads who may use it from these."""

    allowed_roles: frozenset[str]
    local_authority_only: bool

    def __call__(self, request: CpisRequest, *args: Any, **kwargs: Any) -> Any: ...


def role_required(*roles: str, local_authority_only: bool = False):
    """Allows the view only to users holding one of `roles` at their current organisation (and,
    `local_authority_only`, only when that organisation is a local authority).

    A role that shows child data also needs the trained-user gate to pass; the gate page says
    exactly what is missing and who to ask.
    """
    allowed = frozenset(roles)

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            held = request.roles & allowed
            if not held or not _organisation_allowed(request, local_authority_only=local_authority_only):
                raise PermissionDenied
            if needs_gate(held):
                gate = trained_user_gate(request)
                if not gate.passed:
                    return gate_response(request, gate)
            return view(request, *args, **kwargs)

        guarded = cast(RoleGuardedView, wrapper)
        guarded.allowed_roles = allowed
        guarded.local_authority_only = local_authority_only
        return guarded

    return decorator


def access_passkey_by_owner(request: SignedInRequest, passkey_id: int) -> "WebAuthnCredential":
    """One of the signed-in user's passkeys; anyone else's is "not found" (and audited as such)."""
    passkey = passkeys_of(request.user).filter(pk=passkey_id).first()
    if passkey is None:
        raise Http404
    return passkey
