"""Signing in through an organisation's OpenID Connect provider, and its administration.

The flow: `start` sends the browser to the provider with PKCE, state and nonce kept in our
session; the provider sends it back to `callback`, which exchanges the code, validates the ID
token, finds the linked user and either signs them in (the provider's assurance met the
two-factor rule) or hands them to our own second-factor step.
"""

import hmac
import re
import time
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.access import role_required
from accounts.forms import post_data
from accounts.models import Role
from accounts.requests import CpisRequest, OrganisationRequest
from accounts.second_factors import has_second_factor
from accounts.views import after_sign_out_register, next_query, next_url_allowed
from administration.access import access_organisation_by_admin
from administration.services import InvitationUnusable, invitation_usable
from administration.views.invitations import invitation_refusal
from audit.services import client_ip
from single_sign_on import protocol, selectors, services, throttles
from single_sign_on.access import (
    access_enabled_provider_by_visitor,
    access_link_request_by_admin,
    access_provider_by_visitor,
    link_requests_visible_to_admin,
)
from single_sign_on.forms import IdentityProviderForm, LinkDecisionForm
from single_sign_on.models import ClientAuthMethod

if TYPE_CHECKING:
    from single_sign_on.models import IdentityProvider

_FLOW = "sso_flow"
# Long enough to sign in at the provider (a smartcard PIN, an authenticator), no longer.
_FLOW_MAX_AGE = 10 * 60

_REFUSAL_TEXT = {
    "unknown_identity": (
        "Your organisation's account is not linked to a CP-IS account. Ask your organisation's "
        "CP-IS administrator to invite you, then use the link in the invitation email."
    ),
}
_DEFAULT_REFUSAL = "We could not sign you in with your organisation's account. Start again from the sign-in page."


def _redirect_uri() -> str:
    return settings.SITE_URL.rstrip("/") + reverse("single_sign_on:callback")


def _unavailable(request: CpisRequest, provider: "IdentityProvider", reason: str):
    services.refusal_record(request=request, provider=provider, reason=f"provider_unavailable:{reason}")
    return render(request, "single_sign_on/unavailable.jinja", {"provider": provider}, status=503)


def _refused(
    request: CpisRequest, provider: "IdentityProvider | None", reason: str, *, text: str = "", status: int = 403
):
    services.refusal_record(request=request, provider=provider, reason=reason)
    return render(
        request,
        "single_sign_on/refused.jinja",
        {"provider": provider, "text": text or _REFUSAL_TEXT.get(reason, _DEFAULT_REFUSAL)},
        status=status,
    )


def _flow_start(
    request: CpisRequest,
    provider: "IdentityProvider",
    *,
    invitation_token: str | None = None,
    next_url: str | None = None,
):
    try:
        auth = protocol.authorization_request(provider, redirect_uri=_redirect_uri())
    except protocol.ProviderUnavailable as error:
        return _unavailable(request, provider, str(error))
    request.session[_FLOW] = {
        "provider_id": provider.pk,
        "state": auth.state,
        "nonce": auth.nonce,
        "code_verifier": auth.code_verifier,
        "started": time.time(),
        "invitation_token": invitation_token,
        # Where the sign-in goes on to (a page of ours, checked before it was kept).
        "next": next_url,
    }
    return redirect(auth.url)


@login_not_required
@never_cache
def provider_choose(request: CpisRequest):
    if request.user.is_authenticated:
        return redirect("accounts:home")
    return render(
        request,
        "single_sign_on/choose.jinja",
        {"providers": selectors.providers_to_choose(), "next_query": next_query(request)},
    )


@login_not_required
@never_cache
def start(request: CpisRequest, provider_id: int):
    if request.user.is_authenticated:
        return redirect("accounts:home")
    return _flow_start(
        request,
        access_enabled_provider_by_visitor(request, provider_id),
        next_url=next_url_allowed(request, request.GET.get("next")),
    )


@login_not_required
@never_cache
def invitation_start(request: CpisRequest, token: str):
    """Accepting an invitation by signing in at the organisation's provider: the identity that
    comes back is linked to the new account, which has no password of ours."""
    if request.user.is_authenticated:
        return render(request, "administration/invitation_signed_in.jinja")
    try:
        invitation = invitation_usable(token=token)
    except InvitationUnusable as refused:
        return invitation_refusal(request, refused)
    provider = selectors.provider_enabled_of(invitation.organisation)
    if provider is None:
        raise Http404
    return _flow_start(request, provider, invitation_token=token)


def _safe_error_code(value: str) -> str:
    return value if re.fullmatch(r"[a-z_]{1,40}", value) else "other"


@login_not_required
@never_cache
def callback(request: CpisRequest):
    flow = request.session.pop(_FLOW, None)
    if request.user.is_authenticated:
        return redirect("accounts:home")
    if not flow or time.time() - flow.get("started", 0) > _FLOW_MAX_AGE:
        # Also a replayed callback: the flow is used up by the first one.
        return _refused(request, None, "no_sign_in_in_progress", status=400)
    provider = selectors.provider_enabled(flow["provider_id"])
    if provider is None:
        return _refused(request, None, "provider_disabled", status=400)
    if not hmac.compare_digest(request.GET.get("state", ""), flow["state"]):
        return _refused(request, provider, "state_mismatch", status=400)
    # RFC 9207: a provider that names itself in the response must be the one we sent them to
    # (a mix-up attack swaps in another provider's answer).
    if "iss" in request.GET and request.GET["iss"].rstrip("/") != provider.issuer_normalised:
        return _refused(request, provider, "issuer_mismatch", status=400)
    if "error" in request.GET:
        reason = "provider_error_" + _safe_error_code(request.GET["error"])
        return _refused(request, provider, reason, status=400)
    code = request.GET.get("code", "")
    if not code:
        return _refused(request, provider, "no_code", status=400)
    try:
        tokens = protocol.code_exchange(
            provider, code=code, redirect_uri=_redirect_uri(), code_verifier=flow["code_verifier"]
        )
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise protocol.TokenRefused("no_id_token")
        claims = protocol.id_token_validate(provider, id_token, nonce=flow["nonce"])
        if (provider.subject_claim not in claims or provider.email_claim not in claims) and isinstance(
            tokens.get("access_token"), str
        ):
            # Identity claims only from the ID token and a userinfo answer about the same subject;
            # the ID token's own claims win.
            claims = {
                **protocol.userinfo(provider, access_token=tokens["access_token"], subject=claims["sub"]),
                **claims,
            }
    except protocol.ProviderUnavailable as error:
        return _unavailable(request, provider, str(error))
    except protocol.TokenRefused as refused:
        return _refused(request, provider, refused.reason, status=400)
    try:
        user, outcome = services.identity_user(
            provider=provider, claims=claims, invitation_token=flow.get("invitation_token"), request=request
        )
    except services.SignInRefused as refused:
        return _refused(request, provider, refused.reason, text=refused.text)
    if user is None:
        return render(request, "single_sign_on/link_requested.jinja", {"provider": provider})
    acr = claims.get("acr") if isinstance(claims.get("acr"), str) else None
    two_factor = provider.assurance_is_two_factor(acr=acr, amr=claims.get("amr"))
    # Checked again on the way out, as after the password (accounts.views._after_login_redirect).
    next_url = next_url_allowed(request, flow.get("next"))
    services.sign_in_complete(
        request=request,
        provider=provider,
        user=user,
        two_factor=two_factor,
        tokens=tokens,
        claims=claims,
        next_url=next_url,
    )
    if two_factor:
        return redirect(next_url or "accounts:home")
    # As after the password (accounts.views.login_view): the verify page takes a code or a passkey.
    if has_second_factor(user):
        return redirect("accounts:login_verify")
    return redirect("accounts:login_enrol")


@login_not_required
@never_cache
def signed_out(request: CpisRequest, provider_id: int):
    """After our sign-out: the provider's own sign-out, for those on a shared computer."""
    provider = access_provider_by_visitor(request, provider_id)
    logout_url = protocol.end_session_url(
        provider, post_logout_redirect_uri=settings.SITE_URL.rstrip("/") + reverse("accounts:login")
    )
    if logout_url is None:
        return redirect("accounts:login")
    return render(request, "single_sign_on/signed_out.jinja", {"provider": provider, "logout_url": logout_url})


@after_sign_out_register
def provider_sign_out_page(request: CpisRequest) -> str | None:
    """After our sign-out, the page offering the provider's own sign-out (RP-initiated logout),
    for a session that signed in through one."""
    sso = request.session.get(services.SESSION_SSO) or {}
    if sso.get("user_id") != getattr(request.user, "pk", None):
        return None
    provider_id = sso.get("provider_id")
    provider = selectors.provider_by_id(provider_id) if provider_id is not None else None
    return reverse("single_sign_on:signed_out", kwargs={"provider_id": provider.pk}) if provider else None


def _logout_refused(request: CpisRequest, provider: "IdentityProvider | None", reason: str):
    limited = throttles.logout_refusal_count(address=client_ip(request), provider=provider)
    if limited is not None:
        return _logout_limited(request, provider, limited)
    services.refusal_record(request=request, provider=provider, reason=reason)
    # Back-Channel Logout 1.0, 2.8: 400 with an OAuth error body; never cached.
    response = JsonResponse({"error": "invalid_request"}, status=400)
    response["Cache-Control"] = "no-store"
    return response


def _logout_limited(request: CpisRequest, provider: "IdentityProvider | None", limited: throttles.Limited):
    """Over a limit (single_sign_on/throttles.py): 429 with Retry-After, which 2.8 allows beside
    its 400 and which tells a provider that retries when to; audited once a minute."""
    if throttles.logout_limited_first(provider):
        services.refusal_record(request=request, provider=provider, reason="logout_rate_limited")
    response = JsonResponse({"error": "temporarily_unavailable"}, status=429)
    response["Retry-After"] = str(limited.retry_after)
    response["Cache-Control"] = "no-store"
    return response


@login_not_required
@csrf_exempt
@require_POST
def back_channel_logout(request: CpisRequest):
    """The provider's server tells us a person's session there has ended (they signed out at the
    provider, or their account was disabled): our sessions from it end before their next request.

    No cookie or CSRF token comes with it (the provider calls us, not the browser); the signed
    logout token is the whole proof. An address that sent too many bad ones is not heard out."""
    limited = throttles.logout_address_limited(client_ip(request))
    if limited is not None:
        return _logout_limited(request, None, limited)
    logout_token = request.POST.get("logout_token", "")
    try:
        issuer, audiences = protocol.logout_token_audiences(logout_token)
    except protocol.TokenRefused as refused:
        return _logout_refused(request, None, refused.reason)
    provider = selectors.provider_for_logout_token(issuer=issuer, audiences=audiences)
    if provider is None:
        return _logout_refused(request, None, "logout_token_unknown_client")
    try:
        claims = protocol.logout_token_validate(provider, logout_token)
    except protocol.TokenRefused as refused:
        return _logout_refused(request, provider, refused.reason)
    except protocol.ProviderUnavailable:
        # Without its keys the token cannot be checked; the provider may send it again. Counted
        # as a refusal (not audited, as before): each such token costs a call to the provider.
        limited = throttles.logout_refusal_count(address=client_ip(request), provider=provider)
        if limited is not None:
            return _logout_limited(request, provider, limited)
        response = JsonResponse({"error": "temporarily_unavailable"}, status=503)
        response["Cache-Control"] = "no-store"
        return response
    services.provider_sessions_end(
        provider=provider,
        subject=claims.get("sub") if isinstance(claims.get("sub"), str) else None,
        sid=claims.get("sid") if isinstance(claims.get("sid"), str) else None,
        request=request,
    )
    response = JsonResponse({})
    response["Cache-Control"] = "no-store"
    return response


@login_not_required
def jwks(request: CpisRequest):
    return JsonResponse({"keys": selectors.provider_public_keys()})


@never_cache
@role_required(Role.NATIONAL_ADMIN)
def provider_edit(request: OrganisationRequest, organisation_id: int):
    organisation = access_organisation_by_admin(request, organisation_id)
    provider = selectors.provider_of_organisation(organisation)
    form = IdentityProviderForm(post_data(request), instance=provider)
    if request.method == "POST" and form.is_valid():
        provider = form.save(commit=False)
        changed = list(form.changed_data)
        if form.cleaned_data.get("new_client_secret"):
            provider.client_secret = form.cleaned_data["new_client_secret"]
        if provider.client_auth_method == ClientAuthMethod.PRIVATE_KEY_JWT and not provider.private_key_pem:
            provider.private_key_generate()
            changed.append("private_key")
        services.provider_save(provider=provider, by=request.user, changed=changed, request=request)
        messages.success(request, f"Single sign-on for {organisation.name} is saved.")
        return redirect("single_sign_on:provider_edit", organisation_id=organisation.pk)
    return render(
        request,
        "single_sign_on/provider_edit.jinja",
        {
            "organisation": organisation,
            "provider": provider,
            "form": form,
            "redirect_uri": _redirect_uri(),
            "jwks_url": settings.SITE_URL.rstrip("/") + reverse("single_sign_on:jwks"),
            "back_channel_logout_uri": settings.SITE_URL.rstrip("/") + reverse("single_sign_on:back_channel_logout"),
        },
        status=400 if form.errors else 200,
    )


@never_cache
@role_required(Role.ORG_ADMIN, Role.NATIONAL_ADMIN)
def link_requests(request: OrganisationRequest):
    return render(
        request, "single_sign_on/link_requests.jinja", {"links": list(link_requests_visible_to_admin(request))}
    )


@require_POST
@role_required(Role.ORG_ADMIN, Role.NATIONAL_ADMIN)
def link_decide(request: OrganisationRequest, link_request_id: int):
    link = access_link_request_by_admin(request, link_request_id)
    form = LinkDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose to confirm or decline.")
        return redirect("single_sign_on:link_requests")
    confirm = form.cleaned_data["decision"] == "confirm"
    try:
        services.link_request_decide(link=link, confirm=confirm, by=request.user, request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        verb = "can now sign in" if confirm else "will not sign in"
        messages.success(request, f"{link.user.full_name} {verb} with {link.provider.name}.")
    return redirect("single_sign_on:link_requests")
