"""Password self-service pages (accounts/passwords.py holds the rules and the audit)."""

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from accounts.forms import NewPasswordForm, PasswordChangeForm, PasswordForgottenForm, SecondFactorForm, post_data
from accounts.passkeys import passkeys_removable_all
from accounts.passwords import (
    backup_codes_regenerate,
    code_refused,
    password_change,
    password_reset_complete,
    password_reset_request,
    reset_link_user,
    second_factor_verify,
)
from accounts.requests import CpisRequest, SignedInRequest
from accounts.second_factors import has_second_factor
from accounts.views import _BACKUP_CODES, login_locked_out
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record

_RESET_TOKEN = "password_reset_token"


@never_cache
def account(request: SignedInRequest):
    return render(request, "accounts/account.jinja")


@never_cache
@sensitive_post_parameters("current_password", "new_password", "new_password_again", "code")
def password_change_view(request: SignedInRequest):
    user = request.user
    if request.method == "POST":
        # The sign-in's lockout holds here, asked first as on the confirmation page
        # (accounts.passkey_views.reauthenticate); a wrong current password counts towards it.
        credentials = {"username": user.email}
        if AxesProxyHandler.is_locked(request, credentials):
            return login_locked_out(request, credentials)
    form = PasswordChangeForm(
        post_data(request), user=user, request=request, removable_passkeys=passkeys_removable_all(user)
    )
    valid = request.method == "POST" and form.is_valid()
    if getattr(request, "axes_locked_out", False):
        # This guess reached the limit: AxesMiddleware replaces this response with the lockout page.
        return HttpResponse(status=429)
    if valid:
        check = second_factor_verify(user, form.cleaned_data["code"])
        if check.device is None:
            code_refused(request, form, user, check)
        else:
            password_change(
                user=user,
                password=form.cleaned_data["new_password"],
                request=request,
                remove_passkeys=form.cleaned_data.get("remove_passkeys", False),
            )
            # The session's hash of the password changed; keep this sign-in, end the others.
            update_session_auth_hash(request, user)
            messages.success(request, "Your password has been changed.")
            return redirect("accounts:account")
    if request.method == "POST" and "current_password" in form.errors:
        # Someone at an unlocked screen guessing the password is worth seeing in the log.
        audit_record(
            action=AuditAction.PASSWORD_CHANGED,
            request=request,
            outcome=AuditOutcome.FAILURE,
            detail={"reason": "wrong_current_password"},
        )
    return render(request, "accounts/password_change.jinja", {"form": form}, status=400 if form.errors else 200)


@login_not_required
@never_cache
def password_forgotten(request: CpisRequest):
    form = PasswordForgottenForm(post_data(request))
    if request.method == "POST" and form.is_valid():
        password_reset_request(email=form.cleaned_data["email"], request=request)
        # The same page whether or not the address has an account.
        return render(
            request,
            "accounts/password_forgotten_sent.jinja",
            {"minutes": settings.PASSWORD_RESET_TIMEOUT // 60},
        )
    return render(request, "accounts/password_forgotten.jinja", {"form": form}, status=400 if form.errors else 200)


def _link_refused(request: CpisRequest):
    audit_record(
        action=AuditAction.PASSWORD_RESET_COMPLETED,
        request=request,
        outcome=AuditOutcome.DENIED,
        detail={"reason": "link_unusable"},
    )
    return render(request, "accounts/password_reset_refused.jinja", status=410)


@login_not_required
@never_cache
def password_reset_link(request: CpisRequest, token: str):
    """The e-mailed link: swaps the token in the URL for the session, so it never sits in the
    address bar, the history or a Referer header while the user types."""
    if reset_link_user(token) is None:
        return _link_refused(request)
    request.session[_RESET_TOKEN] = token
    return redirect("accounts:password_reset")


@login_not_required
@never_cache
@sensitive_post_parameters("new_password", "new_password_again", "code")
def password_reset(request: CpisRequest):
    token = request.session.get(_RESET_TOKEN, "")
    user = reset_link_user(token) if token else None
    if user is None:
        return _link_refused(request)
    # Whoever has a second factor proves it here too, a passkey's owner included: the link alone
    # (the mailbox) must not set a password (docs/adr/ADR-008-passkeys.md).
    form = NewPasswordForm(
        post_data(request),
        user=user,
        needs_code=has_second_factor(user),
        removable_passkeys=passkeys_removable_all(user),
    )
    if request.method == "POST" and form.is_valid():
        check = second_factor_verify(user, form.cleaned_data["code"]) if "code" in form.fields else None
        if check is not None and check.device is None:
            code_refused(request, form, user, check)
        else:
            password_reset_complete(
                user=user,
                password=form.cleaned_data["new_password"],
                request=request,
                remove_passkeys=form.cleaned_data.get("remove_passkeys", False),
            )
            request.session.pop(_RESET_TOKEN, None)
            messages.success(request, "Your password has been changed. Sign in with your new password.")
            return redirect("accounts:login")
    return render(request, "accounts/password_reset.jinja", {"form": form}, status=400 if form.errors else 200)


@never_cache
@sensitive_post_parameters("code")
def backup_codes_new(request: SignedInRequest):
    user = request.user
    form = SecondFactorForm(post_data(request))
    if request.method == "POST" and form.is_valid():
        check = second_factor_verify(user, form.cleaned_data["code"])
        if check.device is None:
            code_refused(request, form, user, check)
        else:
            request.session[_BACKUP_CODES] = backup_codes_regenerate(user=user, request=request)
            return redirect("accounts:backup_codes")
    return render(request, "accounts/backup_codes_new.jinja", {"form": form}, status=400 if form.errors else 200)
