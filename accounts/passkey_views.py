"""Passkey pages (list, add, remove) and the WebAuthn ceremonies' JSON endpoints.

The ceremonies are django-otp-webauthn's views, narrowed to our sign-in: the second factor is
asked of the *pending* user (password done, not yet signed in, accounts.views), a passwordless
sign-in honours the lockout and deactivation, a signed-in user cannot start a sign-in, every
refusal is audited, and its message is ours.
"""

import json
from typing import TYPE_CHECKING, cast
from urllib.parse import urlencode

from axes.handlers.proxy import AxesProxyHandler
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp_webauthn import exceptions
from django_otp_webauthn.views import (
    BaseWebAuthnView,
    BeginCredentialAuthenticationView,
    BeginCredentialRegistrationView,
    CompleteCredentialAuthenticationView,
    CompleteCredentialRegistrationView,
)

from accounts.access import access_passkey_by_owner
from accounts.forms import PasskeyNameForm, ReauthenticationForm, post_data
from accounts.passkeys import (
    SESSION_PASSKEY_NAME,
    has_passkey,
    passkey_failed,
    passkey_registered,
    passkey_removal_refusal,
    passkey_remove,
    passkey_used,
    passkeys_of,
)
from accounts.passwords import code_refused, second_factor_verify
from accounts.reauthentication import reauthentication_fresh, reauthentication_record, reauthentication_refused
from accounts.requests import CpisRequest, SignedInRequest
from accounts.second_factors import has_second_factor
from accounts.views import _PENDING_NEXT, _complete_login, _pending_user, _safe_next, login_locked_out
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record

if TYPE_CHECKING:
    from accounts.models import User

# The library's messages reach the page as they are (its script shows `detail`); these say
# what happened and what to do, in the service's words.
_MESSAGES = {
    "credential_not_found": "This passkey is not registered with CP-IS. It may have been removed. "
    "Sign in with your email address and password.",
    "credential_user_mismatch": "This passkey belongs to a different account. Choose your own passkey.",
    "credential_disabled": "This passkey cannot be used. Sign in with your email address and password.",
    "user_disabled": "Your account is not active. Ask your organisation's CP-IS administrator.",
    "invalid_state": "The passkey request has expired. Try again.",
    "user_not_verified": "Sign in with your second factor before you add a passkey.",
    "name_missing": "Give the passkey a name first.",
    "already_signed_in": "You are already signed in.",
    "locked_out": "Too many failed attempts to sign in to this account. Wait 15 minutes, then try again.",
    "reauthentication_required": "Confirm it is you again before you add a passkey. Reload the page to start again.",
}
_DEFAULT_MESSAGE = "The passkey could not be checked. Try again, or use your security code."


class _PasskeyNameMissing(exceptions.OTPWebAuthnApiError):
    status_code = 400
    default_code = "name_missing"


class _ReauthenticationRequired(exceptions.OTPWebAuthnApiError):
    status_code = 403
    default_code = "reauthentication_required"


class _AlreadySignedIn(exceptions.OTPWebAuthnApiError):
    status_code = 403
    default_code = "already_signed_in"


class _LockedOut(exceptions.OTPWebAuthnApiError):
    status_code = 429
    default_code = "locked_out"


class _AuditedCeremony(BaseWebAuthnView):
    """Audits each refused request with the library's error code, and answers in our words.

    Mixed in before one of the library's ceremony views, all of them BaseWebAuthnView's: named
    as the base so `super()` is known to reach its methods (the classes resolve in the same order).
    """

    request: CpisRequest
    stage = ""

    def audited_user(self):
        return self.request.user if self.request.user.is_authenticated else _pending_user(self.request)

    def handle_exception(self, exc):
        if isinstance(exc, exceptions.OTPWebAuthnApiError):
            passkey_failed(
                stage=self.stage,
                code=exc.code,
                denied=exc.status_code in (403, 429),
                user=self.audited_user(),
                request=self.request,
            )
            # Audited here with its reason; RefusalAuditMiddleware need not add a second event.
            self.request.refusal_audited = True
            exc.detail = _MESSAGES.get(exc.code, _DEFAULT_MESSAGE)
        return super().handle_exception(exc)


class _Registration(_AuditedCeremony):
    stage = "register"

    def user_is_mfa_enrolled(self, user) -> bool:
        # The library's own answer counts backup codes alone; ours is the service's one rule.
        return has_second_factor(user, provider_assurance=True)

    def check_can_register(self):
        # Both steps of the ceremony: the window may close between them.
        if not reauthentication_fresh(self.request):
            raise _ReauthenticationRequired()
        if not self.request.session.get(SESSION_PASSKEY_NAME):
            raise _PasskeyNameMissing()


@method_decorator(never_cache, name="dispatch")
class PasskeyRegistrationBegin(_Registration, BeginCredentialRegistrationView):
    pass


@method_decorator(never_cache, name="dispatch")
class PasskeyRegistrationComplete(_Registration, CompleteCredentialRegistrationView):
    def post(self, *args, **kwargs):
        response = super().post(*args, **kwargs)
        # Just made by the library for the signed-in user (registration asks for one): read back
        # through that user's own passkeys.
        user = cast("User", self.request.user)
        passkey = passkeys_of(user).get(pk=json.loads(response.content)["id"])
        passkey_registered(passkey=passkey, request=self.request)
        self.request.session.pop(SESSION_PASSKEY_NAME, None)
        messages.success(self.request, f"Passkey added: {passkey.name}")
        return response


class _Authentication(_AuditedCeremony):
    """Second factor for the pending user, or passwordless when nobody is pending."""

    stage = "authenticate"

    def get_user(self):
        return _pending_user(self.request)

    def check_can_authenticate(self):
        if self.request.user.is_authenticated:
            raise _AlreadySignedIn()
        super().check_can_authenticate()


@method_decorator(login_not_required, name="dispatch")
@method_decorator(never_cache, name="dispatch")
class PasskeyAuthenticationBegin(_Authentication, BeginCredentialAuthenticationView):
    pass


@method_decorator(login_not_required, name="dispatch")
@method_decorator(never_cache, name="dispatch")
class PasskeyAuthenticationComplete(_Authentication, CompleteCredentialAuthenticationView):
    def check_device_usable(self, device):
        super().check_device_usable(device)
        if self.get_user() is None and AxesProxyHandler.is_locked(self.request, {"username": device.user.email}):
            # The password's lockout holds for the passkey too: the (account, address) pair that
            # failed waits out the cool-off whichever way it signs in.
            audit_record(
                action=AuditAction.LOGIN_LOCKED_OUT,
                request=self.request,
                user=device.user,
                outcome=AuditOutcome.DENIED,
                detail={"passkey_id": device.pk},
            )
            raise _LockedOut()

    def complete_auth(self, device):
        pending = self.get_user()
        if pending is None:
            # Passwordless: the passkey verified the user (required above), so it is two factors.
            self.request.session[_PENDING_NEXT] = self.request.GET.get("next")
        _complete_login(self.request, device.user, device)
        passkey_used(passkey=device, passwordless=pending is None, request=self.request)

    def get_success_url(self):
        return _safe_next(self.request, self.request.session.pop(_PENDING_NEXT, None))


class _Reauthentication(_AuditedCeremony):
    """A passkey the signed-in user already has, to confirm it is them before adding another."""

    stage = "reauthenticate"

    def get_user(self):
        return self.request.user

    def complete_auth(self, device):
        # Already signed in: nothing about the sign-in changes, the session is only fresh again.
        reauthentication_record(request=self.request, device=device)

    def get_success_url(self):
        return _reauthentication_next(self.request)


@method_decorator(never_cache, name="dispatch")
class ReauthenticationPasskeyBegin(_Reauthentication, BeginCredentialAuthenticationView):
    pass


@method_decorator(never_cache, name="dispatch")
class ReauthenticationPasskeyComplete(_Reauthentication, CompleteCredentialAuthenticationView):
    pass


def _reauthentication_next(request: CpisRequest) -> str:
    return _safe_next(request, request.GET.get("next") or reverse("accounts:passkey_add"))


def _reauthentication_required(request: CpisRequest):
    """The page to confirm it is you, coming back to this one; None when that is fresh."""
    if reauthentication_fresh(request):
        return None
    return redirect(reverse("accounts:reauthenticate") + "?" + urlencode({"next": request.path}))


@never_cache
@sensitive_post_parameters("password", "code")
def reauthenticate(request: SignedInRequest):
    """The password and a code again (or a passkey, through the ceremony above)."""
    user = request.user
    form = ReauthenticationForm(post_data(request))
    if request.method == "POST" and form.is_valid():
        # The sign-in's lockout holds here (a stolen session cannot guess the password either),
        # asked first as the passwordless sign-in does; a wrong password counts towards it
        # through the authentication backends, exactly as at sign-in.
        credentials = {"username": user.email}
        if AxesProxyHandler.is_locked(request, credentials):
            return login_locked_out(request, credentials)
        proved = authenticate(request=request, username=user.email, password=form.cleaned_data["password"])
        if getattr(request, "axes_locked_out", False):
            # AxesMiddleware replaces this response with the lockout page.
            return HttpResponse(status=429)
        if proved is None or proved.pk != user.pk:
            reauthentication_refused(request=request, reason="wrong_password")
            form.add_error("password", "Your password is not correct")
        else:
            check = second_factor_verify(user, form.cleaned_data["code"])
            if check.device is None:
                code_refused(request, form, user, check)
            else:
                reauthentication_record(request=request, device=check.device)
                return redirect(_reauthentication_next(request))
    return render(
        request,
        "accounts/reauthenticate.jinja",
        {"form": form, "passkey": has_passkey(user), "next_url": _reauthentication_next(request)},
        status=400 if form.errors else 200,
    )


@never_cache
def passkey_list(request: SignedInRequest):
    return render(request, "accounts/passkeys.jinja", {"passkeys": list(passkeys_of(request.user))})


@never_cache
def passkey_add(request: SignedInRequest):
    if (confirm := _reauthentication_required(request)) is not None:
        return confirm
    form = PasskeyNameForm(post_data(request), user=request.user)
    if request.method == "POST" and form.is_valid():
        request.session[SESSION_PASSKEY_NAME] = form.cleaned_data["name"]
        return redirect("accounts:passkey_create")
    return render(request, "accounts/passkey_add.jinja", {"form": form}, status=400 if form.errors else 200)


@never_cache
def passkey_create(request: SignedInRequest):
    if (confirm := _reauthentication_required(request)) is not None:
        return confirm
    name = request.session.get(SESSION_PASSKEY_NAME)
    if not name:
        return redirect("accounts:passkey_add")
    return render(request, "accounts/passkey_create.jinja", {"name": name})


@never_cache
def passkey_remove_view(request: SignedInRequest, passkey_id: int):
    passkey = access_passkey_by_owner(request, passkey_id)
    refusal = passkey_removal_refusal(passkey)
    if request.method == "POST":
        refusal = passkey_remove(passkey=passkey, request=request)
        if refusal is None:
            messages.success(request, f"Passkey removed: {passkey.name}")
            return redirect("accounts:passkeys")
    return render(
        request,
        "accounts/passkey_remove.jinja",
        {"passkey": passkey, "refusal": refusal},
        status=409 if refusal and request.method == "POST" else 200,
    )
