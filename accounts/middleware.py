import time
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthenticationMiddleware
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django_otp.middleware import OTPMiddleware as DjangoOTPMiddleware
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.access import current_organisation_load
from accounts.backends import session_user
from accounts.signed_in import device_copied, kept_for
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record, refused_url_detail
from core.compiled_queries import CompiledQuerySet

# Sessions are written at most this often, so an idle timeout costs no write per request.
_ACTIVITY_WRITE_INTERVAL = 60


class IdleTimeoutMiddleware:
    """Signs a user out after SESSION_IDLE_TIMEOUT seconds without a request, and after
    SESSION_ABSOLUTE_TIMEOUT whatever they do (ASVS 7.3.1 / 7.3.2)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = int(time.time())
            last = request.session.get("last_activity", now)
            started = request.session.get("login_time", now)
            if now - last > settings.SESSION_IDLE_TIMEOUT or now - started > settings.SESSION_ABSOLUTE_TIMEOUT:
                audit_record(action=AuditAction.SESSION_EXPIRED, request=request)
                logout(request)
                return redirect(reverse("accounts:login") + "?timeout=1")
            asks_time_left = request.path == reverse("accounts:session_status")
            if not asks_time_left and (
                now - last >= _ACTIVITY_WRITE_INTERVAL or "last_activity" not in request.session
            ):
                request.session["last_activity"] = now
        return self.get_response(request)


def _session_user(request):
    if not hasattr(request, "_cached_user"):
        request.session.get(SESSION_KEY)  # reads the session, and the user with it, if not yet
        token = session_user.set(getattr(request.session, "signed_in_user", None))
        try:
            request._cached_user = auth.get_user(request)
        finally:
            session_user.reset(token)
    return request._cached_user


class AuthenticationMiddleware(DjangoAuthenticationMiddleware):
    """Django's, with the user read in the session's own query (accounts/backends.py)."""

    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _session_user(request))


_TOTP_DEVICE_LABEL = TOTPDevice._meta.label_lower  # "otp_totp.totpdevice", as persistent ids name it
_totp_devices = CompiledQuerySet(
    lambda device_id: TOTPDevice.objects.filter(id=device_id), placeholders={"device_id": int}
)
# The user whose session names the device, while django-otp looks the device up.
_device_user: ContextVar[Any] = ContextVar("device_user", default=None)


class OTPMiddleware(DjangoOTPMiddleware):
    """django-otp's middleware (which device verified this session, if any), reading a TOTP
    device, the only kind we issue, through SQL compiled once per process and kept with the
    session's signed-in state (accounts/signed_in.py: a reset device bumps its version). Any
    other persistent id goes django-otp's own way; its checks (the device is the user's, and
    confirmed) apply to both."""

    def _verify_user_sync(self, request, user):
        token = _device_user.set(user)
        try:
            return super()._verify_user_sync(request, user)
        finally:
            _device_user.reset(token)

    def _device_from_persistent_id(self, persistent_id: str):
        label, _, device_id = self._normalize_persistent_id(persistent_id).rpartition("/")
        if label != _TOTP_DEVICE_LABEL or not device_id.isdigit():
            return super()._device_from_persistent_id(persistent_id)

        def read():
            found = _totp_devices(device_id=int(device_id))
            return found[0] if found else None

        return kept_for(_device_user.get(), "totp", int(device_id), read, device_copied)


class CurrentOrganisationMiddleware:
    """Sets request.organisation and request.roles from the organisation the user works for."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        current_organisation_load(request)
        return self.get_response(request)


class RefusalAuditMiddleware:
    """Audits every 403 and 404 a signed-in user gets from a page of ours (issue 12 finding 5).

    Refusals from an access helper or a role check are how probing shows: another
    organisation's notification ids, plans, uploads or users tried one after another. Views that
    audit their own refusal (the gate, the admin pages, the FHIR API) mark the request, and are
    not recorded twice. The Django admin audits itself (accounts/operator_admin.py); a path that
    matches no URL names no object and is not recorded.
    """

    _SELF_AUDITED_NAMESPACES = frozenset({"admin"})

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code in (403, 404)
            and getattr(request, "resolver_match", None) is not None
            and request.resolver_match.namespace not in self._SELF_AUDITED_NAMESPACES
            and request.user.is_authenticated
            and not getattr(request, "refusal_audited", False)
        ):
            audit_record(
                action=AuditAction.ACCESS_REFUSED,
                request=request,
                outcome=AuditOutcome.DENIED,
                detail={**refused_url_detail(request), "status": response.status_code, "method": request.method},
            )
        return response


class PermissionsPolicyMiddleware:
    """Sends the Permissions-Policy header (Django has no setting for it) on every response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response
