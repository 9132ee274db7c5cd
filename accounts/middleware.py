import time

from django.conf import settings
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse

from accounts.access import current_organisation_load
from audit.models import AuditAction
from audit.services import audit_record

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
            if now - last >= _ACTIVITY_WRITE_INTERVAL or "last_activity" not in request.session:
                request.session["last_activity"] = now
        return self.get_response(request)


class CurrentOrganisationMiddleware:
    """Sets request.organisation and request.roles from the organisation the user works for."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        current_organisation_load(request)
        return self.get_response(request)


class LoginRequiredMiddleware:
    """Every page needs a signed-in user unless its view is marked `login_not_required`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "login_required", True) is False or request.user.is_authenticated:
            return None
        if request.path.startswith(settings.STATIC_URL):
            return None
        return redirect(f"{reverse('accounts:login')}")

    def __call__(self, request):
        return self.get_response(request)
