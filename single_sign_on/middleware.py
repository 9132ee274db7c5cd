import logging
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect

from audit.models import AuditAction
from audit.services import audit_record
from single_sign_on import protocol
from single_sign_on.models import IdentityProvider
from single_sign_on.services import SESSION_SSO

logger = logging.getLogger(__name__)


class ProviderSessionMiddleware:
    """Ends a single sign-on session once the provider stops vouching for the person.

    Every SSO_REVALIDATE_SECONDS the session's refresh token is presented to the provider's
    token endpoint. A refusal (the account was disabled or its sessions revoked there, or the
    provider was switched off here) signs the user out at this request. A provider that cannot
    be reached is asked again a minute later; after SSO_REVALIDATE_GRACE seconds without an
    answer the session ends, so an outage cannot keep a revoked account signed in for long.
    A provider that issues no refresh token cannot be asked: its sessions last as our own do.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        sso = request.session.get(SESSION_SSO) if request.user.is_authenticated else None
        if sso and sso.get("user_id") == request.user.pk:
            ended = self._revalidate(request, sso)
            if ended is not None:
                return ended
        return self.get_response(request)

    def _revalidate(self, request, sso: dict):
        now = int(time.time())
        if now - sso.get("checked_at", 0) < settings.SSO_REVALIDATE_SECONDS or now < sso.get("retry_at", 0):
            return None
        provider_id = sso.get("provider_id")
        provider = (
            IdentityProvider.objects.filter(pk=provider_id, is_enabled=True).first()
            if provider_id is not None
            else None
        )
        if provider is None:
            return self._end(request, sso, "provider_disabled")
        if not sso.get("refresh_token"):
            return None
        try:
            tokens = protocol.refresh(provider, refresh_token=sso["refresh_token"])
        except protocol.TokenRefused as refused:
            return self._end(request, sso, refused.reason)
        except protocol.ProviderUnavailable:
            logger.warning("Identity provider %s did not answer a session check", provider.pk)
            if now - sso.get("checked_at", 0) > settings.SSO_REVALIDATE_GRACE:
                return self._end(request, sso, "provider_unreachable")
            request.session[SESSION_SSO] = {**sso, "retry_at": now + 60}
            return None
        new_refresh = tokens.get("refresh_token")
        request.session[SESSION_SSO] = {
            **sso,
            "refresh_token": new_refresh if isinstance(new_refresh, str) else sso["refresh_token"],
            "checked_at": now,
            "retry_at": 0,
        }
        return None

    def _end(self, request, sso: dict, reason: str):
        audit_record(
            action=AuditAction.SSO_SESSION_ENDED,
            request=request,
            detail={"provider_id": sso.get("provider_id"), "reason": reason},
        )
        logout(request)
        messages.info(request, "Your organisation's sign-in has ended. Sign in again to continue.")
        return redirect("accounts:login")
