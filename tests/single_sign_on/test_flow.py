"""Single sign-on against a real OpenID Connect provider (npm `oidc-provider`) in its own process."""

import html
import re
import secrets
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Invitation, Membership, Role, User
from accounts.services import user_deactivate
from audit.models import AuditAction, AuditEvent, AuditOutcome
from core.tokens import token_hash
from single_sign_on import protocol
from single_sign_on.models import ClientAuthMethod, IdentityProvider, LinkRequest, ProviderIdentity
from tests.accounts.test_login import current_code
from tests.factories import TEST_PASSWORD, user_with_role
from tests.single_sign_on.conftest import provider_redirect, sign_in_at_provider, sso_sign_in

pytestmark = pytest.mark.django_db


def _refusals(reason: str):
    return AuditEvent.objects.filter(action=AuditAction.SSO_REFUSED, outcome=AuditOutcome.DENIED, detail__reason=reason)


def _real_tokens(process, provider: IdentityProvider, username: str) -> tuple[dict, str]:
    """Tokens the provider really issued to `provider`'s client, and the nonce they were for."""
    redirect_uri = settings.SITE_URL.rstrip("/") + reverse("single_sign_on:callback")
    auth = protocol.authorization_request(provider, redirect_uri=redirect_uri)
    back = sign_in_at_provider(process, auth.url, username)
    code = parse_qs(urlparse(back).query)["code"][0]
    tokens = protocol.code_exchange(provider, code=code, redirect_uri=redirect_uri, code_verifier=auth.code_verifier)
    return tokens, auth.nonce


def _is_signed_in_with_two_factor(client: Client) -> bool:
    response = client.get(reverse("accounts:home"))
    return response.status_code == 200 and response.wsgi_request.user.is_verified()


def test_good_sign_in_with_a_smartcard_counts_as_two_factor(running_provider, sso_provider, smartcard_user):
    client = Client()
    response = sso_sign_in(client, running_provider, sso_provider, "smartcard")
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:home")
    assert _is_signed_in_with_two_factor(client)
    assert client.get(reverse("accounts:home")).wsgi_request.user == smartcard_user
    event = AuditEvent.objects.get(action=AuditAction.SSO_LOGIN)
    assert event.user == smartcard_user
    assert event.detail == {"provider_id": sso_provider.pk, "two_factor": True, "acr": "AAL3_ANY"}
    # The provider's identifiers and the person's claims stay out of the audit log.
    assert "cis2-0001" not in str(list(AuditEvent.objects.values_list("detail", flat=True)))
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN, user=smartcard_user).exists()


def test_private_key_jwt_client_signs_in(running_provider, sso_provider, smartcard_user, client_key_pem):
    sso_provider.client_id = "cpis-signed"
    sso_provider.client_auth_method = ClientAuthMethod.PRIVATE_KEY_JWT
    sso_provider.client_secret = ""
    sso_provider.private_key_pem = client_key_pem
    sso_provider.save()
    client = Client()
    assert sso_sign_in(client, running_provider, sso_provider, "smartcard")["Location"] == reverse("accounts:home")
    assert _is_signed_in_with_two_factor(client)


def test_insufficient_assurance_level_falls_to_our_authenticator_code(
    running_provider, sso_provider, password_only_user
):
    client = Client()
    response = sso_sign_in(client, running_provider, sso_provider, "password-only")
    assert response["Location"] == reverse("accounts:login_verify")
    # Not signed in until the code: the home page sends them to sign in.
    assert client.get(reverse("accounts:home")).status_code == 302
    response = client.post(reverse("accounts:login_verify"), {"code": current_code()})
    assert response.status_code == 302
    assert _is_signed_in_with_two_factor(client)
    assert AuditEvent.objects.get(action=AuditAction.SSO_LOGIN).detail["two_factor"] is False


def test_unknown_identity_is_refused_and_never_gets_an_account(running_provider, sso_provider):
    users_before = User.objects.count()
    client = Client()
    response = sso_sign_in(client, running_provider, sso_provider, "stranger")
    assert response.status_code == 403
    assert "not linked to a CP-IS account" in response.content.decode()
    assert User.objects.count() == users_before
    assert _refusals("unknown_identity").count() == 1
    assert client.get(reverse("accounts:home")).status_code == 302


def test_verified_email_match_signs_in_once_an_administrator_confirms(running_provider, sso_provider, care_setting):
    user = user_with_role(Role.CLINICIAN, care_setting)
    user.email = "stranger@example.org"
    user.save()
    client = Client()
    response = sso_sign_in(client, running_provider, sso_provider, "stranger")
    assert response.status_code == 200
    assert "needs to confirm" in response.content.decode()
    assert client.get(reverse("accounts:home")).status_code == 302
    link_request = LinkRequest.objects.get(user=user)
    assert AuditEvent.objects.filter(action=AuditAction.SSO_LINK_REQUESTED, user=user).exists()

    # The user cannot confirm their own link (four eyes); their organisation's admin can.
    own = Client()
    user_admin = user_with_role(Role.ORG_ADMIN, care_setting)
    Membership.objects.create(user=user, organisation=care_setting, role=Role.ORG_ADMIN)
    from tests.conftest import signed_in

    signed_in(own, user)
    own.post(
        reverse("single_sign_on:link_decide", kwargs={"link_request_id": link_request.pk}), {"decision": "confirm"}
    )
    assert not ProviderIdentity.objects.filter(user=user).exists()
    admin = signed_in(Client(), user_admin)
    assert user.full_name in admin.get(reverse("single_sign_on:link_requests")).content.decode()
    response = admin.post(
        reverse("single_sign_on:link_decide", kwargs={"link_request_id": link_request.pk}), {"decision": "confirm"}
    )
    assert response.status_code == 302
    assert ProviderIdentity.objects.get(user=user).subject == "cis2-0003"
    assert AuditEvent.objects.filter(action=AuditAction.SSO_LINKED, user=user_admin).exists()

    client = Client()
    assert sso_sign_in(client, running_provider, sso_provider, "stranger")["Location"] == reverse("accounts:home")
    assert _is_signed_in_with_two_factor(client)


def test_invitation_link_creates_the_account_and_links_the_identity(
    running_provider, sso_provider, care_setting, role_user
):
    token = secrets.token_urlsafe(32)
    inviter = role_user(Role.ORG_ADMIN)
    invitation = Invitation.objects.create(
        organisation=care_setting,
        email="new.starter@example.nhs.uk",
        full_name="New Starter",
        roles=[Role.CLINICIAN],
        token_hash=token_hash(token),
        created_by=inviter,
        expires_at=timezone.now() + timedelta(days=3),
    )
    page = Client().get(reverse("administration:invitation_accept", kwargs={"token": token}))
    start_url = reverse("single_sign_on:invitation_start", kwargs={"token": token})
    assert start_url in page.content.decode()
    client = Client()
    response = client.get(start_url)
    assert response.status_code == 302
    response = client.get(sign_in_at_provider(running_provider, response["Location"], "stranger"))
    assert response["Location"] == reverse("accounts:home")
    user = User.objects.get(email="new.starter@example.nhs.uk")
    assert not user.has_usable_password()
    assert ProviderIdentity.objects.get(user=user).subject == "cis2-0003"
    assert list(user.memberships.values_list("role", flat=True)) == [Role.CLINICIAN]
    invitation.refresh_from_db()
    assert invitation.accepted_user == user
    assert AuditEvent.objects.filter(action=AuditAction.SSO_LINKED, user=user).exists()
    # The link is used up: a second go is refused.
    assert Client().get(start_url).status_code == 410


def test_replayed_callback_is_refused(running_provider, sso_provider, smartcard_user):
    client = Client()
    callback = sign_in_at_provider(running_provider, provider_redirect(client, sso_provider), "smartcard")
    assert client.get(callback).status_code == 302
    client.post(reverse("accounts:logout"))
    # The same callback again, in the same browser and in another one.
    assert client.get(callback).status_code == 400
    assert Client().get(callback).status_code == 400
    assert _refusals("no_sign_in_in_progress").count() == 2


def test_used_code_is_refused_by_the_provider(running_provider, sso_provider, smartcard_user):
    first = Client()
    callback = sign_in_at_provider(running_provider, provider_redirect(first, sso_provider), "smartcard")
    assert first.get(callback).status_code == 302
    # An attacker starts their own sign-in and swaps in the used code with their own state.
    attacker = Client()
    state = parse_qs(urlparse(provider_redirect(attacker, sso_provider)).query)["state"][0]
    code = parse_qs(urlparse(callback).query)["code"][0]
    response = attacker.get(reverse("single_sign_on:callback"), {"code": code, "state": state})
    assert response.status_code == 400
    assert _refusals("token_endpoint_invalid_grant").exists()


def test_replayed_id_token_is_refused(running_provider, sso_provider):
    tokens, nonce = _real_tokens(running_provider, sso_provider, "smartcard")
    assert protocol.id_token_validate(sso_provider, tokens["id_token"], nonce=nonce)["sub"] == "cis2-0001"
    with pytest.raises(protocol.TokenRefused) as refused:
        protocol.id_token_validate(sso_provider, tokens["id_token"], nonce=nonce)
    assert refused.value.reason == "id_token_replayed"


def test_id_token_for_another_client_is_refused(running_provider, sso_provider):
    other = IdentityProvider.objects.create(
        organisation=user_with_role(Role.CLINICIAN).memberships.get().organisation,
        name="Other",
        issuer=running_provider.issuer,
        client_id="cpis-other",
        client_auth_method=ClientAuthMethod.CLIENT_SECRET_BASIC,
        client_secret="x",
        is_enabled=True,
    )
    tokens, nonce = _real_tokens(running_provider, sso_provider, "smartcard")
    with pytest.raises(protocol.TokenRefused) as refused:
        protocol.id_token_validate(other, tokens["id_token"], nonce=nonce)
    assert refused.value.reason == "id_token_audience"


def test_expired_id_token_is_refused(running_provider, sso_provider, settings):
    # The provider issues the ID token at the code exchange, so an expired one is one presented
    # after its lifetime: a real token of one second, checked two seconds later.
    settings.SSO_CLOCK_LEEWAY = 0
    running_provider.control("id-token-ttl", seconds=1)
    tokens, nonce = _real_tokens(running_provider, sso_provider, "smartcard")
    time.sleep(2.2)
    with pytest.raises(protocol.TokenRefused) as refused:
        protocol.id_token_validate(sso_provider, tokens["id_token"], nonce=nonce)
    assert refused.value.reason == "id_token_expired"


def test_bad_nonce_is_refused(running_provider, sso_provider, smartcard_user):
    client = Client()
    authorization_url = provider_redirect(client, sso_provider)
    session = client.session
    session["sso_flow"] = {**session["sso_flow"], "nonce": "not-the-nonce-we-sent"}
    session.save()
    response = client.get(sign_in_at_provider(running_provider, authorization_url, "smartcard"))
    assert response.status_code == 400
    assert _refusals("id_token_nonce").count() == 1


def test_bad_state_is_refused(running_provider, sso_provider, smartcard_user):
    client = Client()
    callback = sign_in_at_provider(running_provider, provider_redirect(client, sso_provider), "smartcard")
    response = client.get(callback.replace("state=", "state=x"))
    assert response.status_code == 400
    assert _refusals("state_mismatch").count() == 1


def test_rotated_provider_keys_still_sign_in(running_provider, sso_provider, smartcard_user):
    assert sso_sign_in(Client(), running_provider, sso_provider, "smartcard")["Location"] == reverse("accounts:home")
    old_kids = {k["kid"] for k in protocol._jwks(sso_provider)}
    running_provider.restart()
    client = Client()
    assert sso_sign_in(client, running_provider, sso_provider, "smartcard")["Location"] == reverse("accounts:home")
    assert {k["kid"] for k in protocol._jwks(sso_provider)}.isdisjoint(old_kids)
    assert _is_signed_in_with_two_factor(client)


def test_provider_down_shows_a_clear_page_and_password_sign_in_still_works(
    running_provider, sso_provider, smartcard_user
):
    running_provider.stop()
    client = Client()
    response = client.get(reverse("single_sign_on:start", kwargs={"provider_id": sso_provider.pk}))
    assert response.status_code == 503
    page = response.content.decode()
    assert "we cannot reach Test CIS2" in page
    assert reverse("accounts:login") in page
    assert _refusals("provider_unavailable:ConnectError").exists()
    response = client.post(reverse("accounts:login"), {"email": smartcard_user.email, "password": TEST_PASSWORD})
    assert response["Location"] == reverse("accounts:login_verify")
    client.post(reverse("accounts:login_verify"), {"code": current_code()})
    assert _is_signed_in_with_two_factor(client)


def test_deactivation_here_ends_the_session_at_the_next_request(running_provider, sso_provider, smartcard_user):
    client = Client()
    sso_sign_in(client, running_provider, sso_provider, "smartcard")
    assert _is_signed_in_with_two_factor(client)
    user_deactivate(user=smartcard_user, by=None)
    assert client.get(reverse("accounts:home")).status_code == 302
    # And the provider's word does not bring the account back.
    response = sso_sign_in(Client(), running_provider, sso_provider, "smartcard")
    assert response.status_code == 403
    assert _refusals("user_inactive").count() == 1


def test_deactivation_at_the_provider_without_back_channel_ends_the_session_at_the_next_check(
    running_provider, sso_provider, smartcard_user, settings
):
    client = Client()
    sso_sign_in(client, running_provider, sso_provider, "smartcard")
    settings.SSO_REVALIDATE_SECONDS = 0
    # Still working at the provider: the check passes and the session goes on.
    assert client.get(reverse("accounts:home")).status_code == 200
    # Without telling us over the back channel: only the refresh token shows it.
    running_provider.control("deactivate", user="cis2-0001", notify="no")
    response = client.get(reverse("accounts:home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login")
    assert client.get(reverse("accounts:home")).status_code == 302
    ended = AuditEvent.objects.get(action=AuditAction.SSO_SESSION_ENDED)
    assert ended.user == smartcard_user
    assert ended.detail == {"provider_id": sso_provider.pk, "reason": "token_endpoint_invalid_grant"}


def test_sign_out_offers_the_providers_sign_out(running_provider, sso_provider, smartcard_user):
    client = Client()
    sso_sign_in(client, running_provider, sso_provider, "smartcard")
    response = client.post(reverse("accounts:logout"))
    signed_out = reverse("single_sign_on:signed_out", kwargs={"provider_id": sso_provider.pk})
    assert response["Location"] == signed_out
    assert client.get(reverse("accounts:home")).status_code == 302
    page = client.get(signed_out)
    assert page.status_code == 200
    logout_url = html.unescape(re.search(r'href="([^"]*/session/end[^"]*)"', page.content.decode()).group(1))
    assert logout_url.startswith(running_provider.issuer + "/session/end?client_id=cpis-test")
    # The provider knows the client and the return address: it asks the person to confirm.
    assert httpx.get(logout_url, timeout=5).status_code == 200


def test_password_sign_out_goes_straight_to_the_sign_in_page(client, role_user):
    from tests.conftest import signed_in

    signed_in(client, role_user(Role.CLINICIAN))
    assert client.post(reverse("accounts:logout"))["Location"] == reverse("accounts:login")


def test_answer_naming_another_issuer_is_refused(running_provider, sso_provider, smartcard_user):
    client = Client()
    callback = sign_in_at_provider(running_provider, provider_redirect(client, sso_provider), "smartcard")
    response = client.get(callback.replace("iss=", "iss=https%3A%2F%2Fevil.example&was="))
    assert response.status_code == 400
    assert _refusals("issuer_mismatch").count() == 1


def test_provider_error_is_a_clear_page_with_a_safe_reason(running_provider, sso_provider):
    client = Client()
    state = parse_qs(urlparse(provider_redirect(client, sso_provider)).query)["state"][0]
    response = client.get(reverse("single_sign_on:callback"), {"state": state, "error": "access_denied<script>"})
    assert response.status_code == 400
    assert "Start again from the sign-in page" in response.content.decode()
    assert _refusals("provider_error_other").count() == 1


def _start(client: Client, provider: IdentityProvider, next_url: str) -> str:
    response = client.get(reverse("single_sign_on:start", kwargs={"provider_id": provider.pk}), {"next": next_url})
    assert response.status_code == 302
    return response["Location"]


def test_sign_in_goes_on_to_the_page_it_was_asked_for(running_provider, sso_provider, smartcard_user):
    client = Client()
    wanted = reverse("accounts:account") + "?from=test"
    response = client.get(sign_in_at_provider(running_provider, _start(client, sso_provider, wanted), "smartcard"))
    assert response.status_code == 302
    assert response["Location"] == wanted
    assert _is_signed_in_with_two_factor(client)


def test_our_own_second_factor_goes_on_to_the_page_asked_for_too(running_provider, sso_provider, password_only_user):
    client = Client()
    wanted = reverse("accounts:account")
    response = client.get(sign_in_at_provider(running_provider, _start(client, sso_provider, wanted), "password-only"))
    assert response["Location"] == reverse("accounts:login_verify")
    response = client.post(reverse("accounts:login_verify"), {"code": current_code()})
    assert response.status_code == 302
    assert response["Location"] == wanted


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/",
        "//evil.example/",
        "https:evil.example",
        "/\\evil.example/",
        "http://testserver/account/",  # ours, but not over https when the request is
        "javascript:alert(1)",
        "\x00/account/",
    ],
)
def test_an_attackers_next_is_never_followed(running_provider, sso_provider, smartcard_user, next_url):
    client = Client()
    authorization = client.get(
        reverse("single_sign_on:start", kwargs={"provider_id": sso_provider.pk}),
        {"next": next_url},
        secure=next_url.startswith("http://testserver"),
    )["Location"]
    assert client.session["sso_flow"]["next"] is None
    response = client.get(sign_in_at_provider(running_provider, authorization, "smartcard"))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:home")


def test_an_attackers_next_is_not_followed_after_our_second_factor(running_provider, sso_provider, password_only_user):
    client = Client()
    back = sign_in_at_provider(running_provider, _start(client, sso_provider, "https://evil.example/"), "password-only")
    assert client.get(back)["Location"] == reverse("accounts:login_verify")
    response = client.post(reverse("accounts:login_verify"), {"code": current_code()})
    assert response["Location"] == reverse("accounts:home")


def _href(page: str, path: str) -> str:
    (found,) = re.findall(r'href="(' + re.escape(path) + r'[^"]*)"', page)
    return html.unescape(found)


def test_next_is_carried_from_the_sign_in_page_through_the_provider_and_back(
    running_provider, sso_provider, smartcard_user
):
    client = Client()
    wanted = reverse("accounts:account")
    login = client.get(wanted)
    assert login.status_code == 302
    page = client.get(login["Location"]).content.decode()
    choose = client.get(_href(page, reverse("single_sign_on:choose"))).content.decode()
    start = _href(choose, reverse("single_sign_on:start", kwargs={"provider_id": sso_provider.pk}))
    assert parse_qs(urlparse(start).query) == {"next": [wanted]}
    authorization = client.get(start)["Location"]
    response = client.get(sign_in_at_provider(running_provider, authorization, "smartcard"))
    assert response["Location"] == wanted


def test_the_choose_page_does_not_pass_on_an_attackers_next(client, sso_provider):
    page = client.get(reverse("single_sign_on:choose"), {"next": "https://evil.example/"}).content.decode()
    start = _href(page, reverse("single_sign_on:start", kwargs={"provider_id": sso_provider.pk}))
    assert "evil" not in start and "next" not in start
    login = client.get(reverse("accounts:login"), {"next": "https://evil.example/"}).content.decode()
    assert "evil.example" not in _href(login, reverse("single_sign_on:choose"))
