import base64
import time
from io import BytesIO
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from markupsafe import Markup

from accounts.access import SESSION_ORGANISATION_KEY, organisation_admins, trained_user_gate
from accounts.dashboards import home_context, panels_for
from accounts.forms import LoginForm, OrganisationSelectForm, OTPForm, post_data
from accounts.models import CHILD_DATA_ROLES, Role
from accounts.navigation import links_for
from accounts.passkeys import has_passkey
from accounts.passwords import CodeCheck, code_check, code_refused, second_factor_verify
from accounts.reauthentication import reauthentication_mark
from accounts.requests import CpisRequest, SignedInRequest
from accounts.second_factors import has_second_factor
from accounts.selectors import user_active, user_by_email
from accounts.services import totp_device_for_enrolment, totp_enrolment_confirm
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record
from core.confirmations import confirmation_mark, confirmation_peek, confirmation_take

if TYPE_CHECKING:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User

# Between the password and the second factor the user is "pending": known, not signed in.
_PENDING_USER = "pending_user_id"
_PENDING_SINCE = "pending_since"
_PENDING_NEXT = "pending_next"
_PENDING_MAX_AGE = 5 * 60
_BACKUP_CODES = "new_backup_codes"
_SET_UP_NEXT = "set_up_next"
# Apps that signed the person in another way name the page to show after our sign-out (the
# single sign-on app offers its provider's own sign-out). They register from their ready():
# accounts sits below them and must not import them (docs/adr/ADR-010-layout.md).
_AFTER_SIGN_OUT: list = []


def after_sign_out_register(page_for):
    if page_for not in _AFTER_SIGN_OUT:
        _AFTER_SIGN_OUT.append(page_for)
    return page_for


def pending_sign_in_start(request: CpisRequest, user: "User", *, next_url: str | None = None) -> None:
    """The password (or an accepted invitation) is done: the second factor comes next."""
    request.session.cycle_key()
    request.session[_PENDING_USER] = user.pk
    request.session[_PENDING_SINCE] = time.time()
    request.session[_PENDING_NEXT] = next_url


def _pending_user(request: CpisRequest) -> "User | None":
    user_id = request.session.get(_PENDING_USER)
    since = request.session.get(_PENDING_SINCE, 0)
    if user_id is None or time.time() - since > _PENDING_MAX_AGE:
        return None
    return user_active(user_id=user_id)


def next_url_allowed(request: CpisRequest, candidate: str | None) -> str | None:
    """`candidate` if it is a page of ours (same host, and https when this request is), else
    None: where a sign-in may go on to, whichever way it was made."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, {request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return None


def next_query(request: CpisRequest) -> str:
    """The query string handing this request's allowed `next` on to another sign-in page ("" if none)."""
    allowed = next_url_allowed(request, request.GET.get("next"))
    return "?" + urlencode({"next": allowed}) if allowed else ""


def _safe_next(request: CpisRequest, candidate: str | None) -> str:
    return next_url_allowed(request, candidate) or reverse("accounts:home")


def _complete_login(request: CpisRequest, user: "User", device) -> None:
    next_url = request.session.get(_PENDING_NEXT)
    auth_login(request, user, backend="accounts.backends.SessionUserBackend")
    otp_login(request, device)
    now = int(time.time())
    request.session["login_time"] = now
    request.session["last_activity"] = now
    request.session[_PENDING_NEXT] = next_url
    # Both of our factors, just now: a passkey may be added in the next few minutes.
    reauthentication_mark(request)
    audit_record(action=AuditAction.LOGIN, request=request, user=user, detail={"device": device.persistent_id})


def _after_login_redirect(request: CpisRequest):
    next_url = _safe_next(request, request.session.pop(_PENDING_NEXT, None))
    return redirect(next_url)


@login_not_required
@never_cache
def login_view(request: CpisRequest):
    timed_out = request.GET.get("timeout") == "1"
    if request.user.is_authenticated:
        # Never sign out on a GET: any site could link here (issue 12). The page's timer posts
        # to logout once the server confirms the time is up (session_status).
        return redirect("accounts:home")
    form = LoginForm(post_data(request))
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].lower()
        user = authenticate(request=request, username=email, password=form.cleaned_data["password"])
        if getattr(request, "axes_locked_out", False):
            # AxesMiddleware replaces this response with the lockout page.
            return HttpResponse(status=429)
        if user is None:
            known = user_by_email(email=email)
            audit_record(action=AuditAction.LOGIN_FAILED, request=request, user=known, outcome=AuditOutcome.FAILURE)
            form.add_error(None, "Enter a correct email address and password. Both are case-sensitive.")
        else:
            pending_sign_in_start(request, user, next_url=request.GET.get("next"))
            # The verify page checks an authenticator code or a passkey: either sends it there.
            if has_second_factor(user):
                return redirect("accounts:login_verify")
            return redirect("accounts:login_enrol")
    return render(
        request,
        "accounts/login.jinja",
        # The passkey sign-in reads `next` from the page (the password form keeps the query
        # string): both go where Django's LoginRequiredMiddleware was sent from, if it is ours.
        # The single sign-on link carries `next` through the provider's round trip too.
        {
            "form": form,
            "timed_out": timed_out,
            "next_url": _safe_next(request, request.GET.get("next")),
            "next_query": next_query(request),
        },
        status=400 if form.errors else 200,
    )


def axes_username(request: CpisRequest, credentials=None) -> str:
    """The login name axes counts failures against: the e-mail address, however it arrived.

    Django's failure signal names it `username`; axes's own backend passes it under the user
    model's USERNAME_FIELD (`email`). Only the sign-in form posts an `email` field, so without
    the second the backend's lockout check saw no name on any other page that authenticates.
    """
    credentials = credentials or {}
    name = credentials.get("username") or credentials.get("email") or request.POST.get("email", "")
    return name.strip().lower()


def login_locked_out(request: CpisRequest, credentials=None, *args, **kwargs):
    known = user_by_email(email=axes_username(request, credentials))
    audit_record(action=AuditAction.LOGIN_LOCKED_OUT, request=request, user=known, outcome=AuditOutcome.DENIED)
    return render(request, "accounts/locked_out.jinja", status=429)


@login_not_required
@never_cache
def login_verify(request: CpisRequest):
    user = _pending_user(request)
    if user is None:
        messages.info(request, "Sign in again to continue.")
        return redirect("accounts:login")
    form = OTPForm(post_data(request))
    if request.method == "POST" and form.is_valid():
        check = second_factor_verify(user, form.cleaned_data["code"])
        device = check.device
        if device is None:
            code_refused(request, form, user, check)
        else:
            if check.backup_code:
                audit_record(action=AuditAction.OTP_BACKUP_CODE_USED, request=request, user=user)
            _complete_login(request, user, device)
            return _after_login_redirect(request)
    return render(
        request,
        "accounts/login_verify.jinja",
        # A passkey is offered beside the code form; the code form stays for the authenticator
        # app and the backup codes.
        {"form": form, "passkey": has_passkey(user)},
        status=400 if form.errors else 200,
    )


def _qr_svg(url: str) -> Markup:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode().split("?>", 1)[-1]
    # Give the picture a text alternative; the secret is also printed beside it.
    svg = svg.replace("<svg ", '<svg role="img" aria-label="QR code for your authenticator app" ', 1)
    return Markup(svg)  # noqa: S704 - generated by qrcode from our own otpauth URL


def _secret_base32(device: "TOTPDevice") -> str:
    secret = base64.b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@login_not_required
@never_cache
def login_enrol(request: CpisRequest):
    user = _pending_user(request)
    if user is None:
        messages.info(request, "Sign in again to continue.")
        return redirect("accounts:login")
    if has_second_factor(user):
        return redirect("accounts:login_verify")
    device = totp_device_for_enrolment(user=user)
    form = OTPForm(post_data(request))
    if request.method == "POST" and form.is_valid():
        # The same rule as every other code: a typo does not make the right code wait.
        check = code_check([device], form.cleaned_data["code"])
        if check.device is not None:
            codes = totp_enrolment_confirm(device=device, request=request)
            # The end of onboarding for a new user (never signed in before); for someone whose
            # two-factor authentication an admin reset, the end of setting it up again.
            first_time = user.last_login is None
            _complete_login(request, user, device)
            request.session[_BACKUP_CODES] = codes
            confirmation_mark(request.session, "account_set_up", "new" if first_time else "again")
            return redirect("accounts:backup_codes")
        if check.refusal == "wrong":
            check = CodeCheck(refusal="wrong_at_enrolment")
        code_refused(request, form, user, check)
    return render(
        request,
        "accounts/login_enrol.jinja",
        {"form": form, "qr_svg": _qr_svg(device.config_url), "secret": _secret_base32(device)},
        status=400 if form.errors else 200,
    )


@never_cache
def backup_codes(request: SignedInRequest):
    codes = request.session.pop(_BACKUP_CODES, None)
    if not codes:
        return redirect("accounts:home")
    next_url = _safe_next(request, request.session.pop(_PENDING_NEXT, None))
    if confirmation_peek(request.session, "account_set_up"):
        # The last step of setting up: the home page says it is done (and leads on to the page
        # that asked for sign-in, if one did).
        request.session[_SET_UP_NEXT] = next_url
        next_url = reverse("accounts:home")
    return render(request, "accounts/backup_codes.jinja", {"codes": codes, "next_url": next_url})


@require_POST
def logout_view(request: CpisRequest):
    if request.POST.get("reason") == "timeout":
        # The page's timer, after session_status said the time was up.
        audit_record(action=AuditAction.SESSION_EXPIRED, request=request)
        auth_logout(request)
        return redirect(reverse("accounts:login") + "?timeout=1")
    # Read before our sign-out clears the session that knows how the person signed in.
    after = next(filter(None, (page_for(request) for page_for in _AFTER_SIGN_OUT)), None)
    audit_record(action=AuditAction.LOGOUT, request=request)
    auth_logout(request)
    messages.success(request, "You have signed out.")
    return redirect(after or "accounts:login")


@require_POST
def session_extend(request: CpisRequest):
    request.session["last_activity"] = int(time.time())
    return JsonResponse({"expires_in": settings.SESSION_IDLE_TIMEOUT})


@never_cache
def session_status(request: SignedInRequest):
    """Seconds left before the idle or absolute timeout. Reading it is not activity (the
    middleware leaves the clock alone for this URL), so a page left open cannot keep itself
    signed in by asking."""
    now = int(time.time())
    idle_left = settings.SESSION_IDLE_TIMEOUT - (now - request.session.get("last_activity", now))
    absolute_left = settings.SESSION_ABSOLUTE_TIMEOUT - (now - request.session.get("login_time", now))
    return JsonResponse({"expires_in": max(0, min(idle_left, absolute_left))})


@never_cache
def organisation_select(request: SignedInRequest):
    organisations = request.user_organisations
    form = OrganisationSelectForm(
        post_data(request),
        organisations=organisations,
        initial={"organisation": request.organisation.pk if request.organisation else None},
    )
    if request.method == "POST" and form.is_valid():
        organisation = form.cleaned_data["organisation"]
        request.session[SESSION_ORGANISATION_KEY] = organisation.pk
        audit_record(action=AuditAction.ORGANISATION_SWITCHED, request=request, organisation=organisation)
        messages.success(request, f"You are now working for {organisation.name}.")
        return redirect("accounts:home")
    return render(
        request,
        "accounts/organisation_select.jinja",
        {"form": form, "organisations": organisations},
        status=400 if form.errors else 200,
    )


def _set_up_confirmation(request: SignedInRequest) -> dict:
    """The confirmation panel, once, on the home page the end of onboarding leads to."""
    for kind in ("new", "again"):
        if confirmation_take(request.session, "account_set_up", kind):
            after = request.session.pop(_SET_UP_NEXT, None)
            return {"set_up": kind, "set_up_next": after if after and after != reverse("accounts:home") else None}
    return {"set_up": None}


@never_cache
def home(request: SignedInRequest):
    if request.organisation is None and len(request.user_organisations) > 1:
        return redirect("accounts:organisation_select")
    shows_child_data = bool(request.roles & CHILD_DATA_ROLES)
    gate = trained_user_gate(request) if shows_child_data else None
    return render(
        request,
        "accounts/home.jinja",
        {
            "gate": gate,
            "admins": organisation_admins(request.organisation) if gate and not gate.passed else [],
            "role_names": [Role(r).label for r in sorted(request.roles)],
            "home_links": links_for(request),
            "panels": panels_for(request),
            **_set_up_confirmation(request),
            **home_context(request),
        },
    )
