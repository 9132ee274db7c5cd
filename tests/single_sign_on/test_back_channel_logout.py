"""OpenID Connect Back-Channel Logout: the provider's server ends our sessions, with logout
tokens the real provider (npm `oidc-provider`, its own process) signs."""

import jwt
import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from pytest_django.live_server_helper import LiveServer

from accounts.models import UserSession
from audit.models import AuditAction, AuditEvent, AuditOutcome
from single_sign_on.models import ClientAuthMethod
from tests.accounts.test_login import current_code
from tests.single_sign_on.conftest import sso_sign_in

pytestmark = pytest.mark.django_db

ENDPOINT = "single_sign_on:back_channel_logout"


def _post(token: str, client: Client | None = None):
    return (client or Client()).post(reverse(ENDPOINT), {"logout_token": token})


def _signed_in(client: Client) -> bool:
    return client.get(reverse("accounts:home")).status_code == 200


def _session(client: Client) -> UserSession:
    return UserSession.objects.get(session_key=client.session.session_key)


def _ended(user=None):
    events = AuditEvent.objects.filter(action=AuditAction.SSO_SESSION_ENDED, detail__reason="back_channel_logout")
    return events.filter(user=user) if user else events


def _refused(reason: str) -> bool:
    return AuditEvent.objects.filter(
        action=AuditAction.SSO_REFUSED, outcome=AuditOutcome.DENIED, detail__reason=reason
    ).exists()


def test_logout_of_one_provider_session_ends_only_that_session(running_provider, sso_provider, smartcard_user):
    first, second = Client(), Client()
    sso_sign_in(first, running_provider, sso_provider, "smartcard")
    sso_sign_in(second, running_provider, sso_provider, "smartcard")
    session = _session(first)
    assert (session.provider_issuer, session.provider_subject) == (running_provider.issuer, "cis2-0001")
    assert session.provider_sid and session.provider_sid != _session(second).provider_sid

    response = _post(running_provider.logout_token(sub="cis2-0001", sid=session.provider_sid))

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert not _signed_in(first)
    assert _signed_in(second)
    event = _ended(smartcard_user).get()
    assert event.detail == {"provider_id": sso_provider.pk, "reason": "back_channel_logout"}
    assert event.organisation == sso_provider.organisation


def test_logout_naming_the_person_ends_all_their_sessions_from_that_provider(
    running_provider, sso_provider, smartcard_user, password_only_user
):
    first, second, someone_else = Client(), Client(), Client()
    sso_sign_in(first, running_provider, sso_provider, "smartcard")
    sso_sign_in(second, running_provider, sso_provider, "smartcard")
    sso_sign_in(someone_else, running_provider, sso_provider, "password-only")
    someone_else.post(reverse("accounts:login_verify"), {"code": current_code()})
    assert _signed_in(someone_else)

    assert _post(running_provider.logout_token(sub="cis2-0001")).status_code == 200

    assert not _signed_in(first)
    assert not _signed_in(second)
    assert _signed_in(someone_else)
    assert _ended(smartcard_user).count() == 2


def test_a_session_whose_id_token_named_no_sid_ends_when_its_subject_does(
    running_provider, sso_provider, smartcard_user, client_key_pem
):
    # This client registered no back-channel logout, so the provider puts no sid in its ID tokens.
    sso_provider.client_id = "cpis-signed"
    sso_provider.client_auth_method = ClientAuthMethod.PRIVATE_KEY_JWT
    sso_provider.client_secret = ""
    sso_provider.private_key_pem = client_key_pem
    sso_provider.save()
    client = Client()
    sso_sign_in(client, running_provider, sso_provider, "smartcard")
    assert _signed_in(client)
    assert _session(client).provider_sid == ""

    token = running_provider.logout_token(client="cpis-signed", sub="cis2-0001", sid="a-provider-session")
    assert _post(token).status_code == 200

    assert not _signed_in(client)
    assert _ended(smartcard_user).count() == 1


def test_a_session_finished_with_our_own_code_is_still_found(running_provider, sso_provider, password_only_user):
    """The code step cycles the session key; the provider's identifiers go with the session."""
    client = Client()
    sso_sign_in(client, running_provider, sso_provider, "password-only")
    pending_key = client.session.session_key
    client.post(reverse("accounts:login_verify"), {"code": current_code()})
    assert _signed_in(client)
    assert client.session.session_key != pending_key
    sid = _session(client).provider_sid
    assert sid

    assert _post(running_provider.logout_token(sub="cis2-0002", sid=sid)).status_code == 200

    assert not _signed_in(client)
    assert _ended(password_only_user).count() == 1


def test_a_replayed_logout_token_is_refused(running_provider, sso_provider, smartcard_user):
    token = running_provider.logout_token(sub="cis2-0001")
    assert _post(token).status_code == 200
    client = Client()
    sso_sign_in(client, running_provider, sso_provider, "smartcard")

    response = _post(token)

    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request"}
    assert _refused("logout_token_replayed")
    assert _signed_in(client)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"nonce": "an-id-token-has-one"}, "logout_token_nonce"),
        ({"omit": "events"}, "logout_token_no_event"),
        ({"omit": "jti"}, "logout_token_invalid"),
        ({}, "logout_token_no_subject"),
    ],
    ids=["nonce", "no-event", "no-jti", "neither-sub-nor-sid"],
)
def test_a_logout_token_missing_what_the_standard_requires_is_refused(
    running_provider, sso_provider, smartcard_user, claims, reason
):
    client = Client()
    sso_sign_in(client, running_provider, sso_provider, "smartcard")
    sid = _session(client).provider_sid
    if reason != "logout_token_no_subject":
        claims = {"sub": "cis2-0001", "sid": sid, **claims}

    response = _post(running_provider.logout_token(**claims))

    assert response.status_code == 400
    assert _refused(reason)
    assert _signed_in(client)
    assert not _ended().exists()


def test_a_logout_token_for_another_client_is_refused(running_provider, sso_provider, smartcard_user):
    client = Client()
    sso_sign_in(client, running_provider, sso_provider, "smartcard")

    response = _post(running_provider.logout_token(client="cpis-other", sub="cis2-0001"))

    assert response.status_code == 400
    assert _refused("logout_token_unknown_client")
    assert _signed_in(client)


def test_an_id_token_is_not_a_logout_token(running_provider, sso_provider, smartcard_user):
    from tests.single_sign_on.test_flow import _real_tokens

    client = Client()
    sso_sign_in(client, running_provider, sso_provider, "smartcard")
    tokens, _ = _real_tokens(running_provider, sso_provider, "smartcard")

    assert _post(tokens["id_token"]).status_code == 400
    # Signed by the right key for the right client, but with no jti, no logout event and a nonce.
    assert _refused("logout_token_invalid")
    assert _signed_in(client)


def test_a_logout_token_not_signed_by_the_provider_is_refused(
    running_provider, sso_provider, smartcard_user, client_key_pem
):
    client = Client()
    sso_sign_in(client, running_provider, sso_provider, "smartcard")
    real = running_provider.logout_token(sub="cis2-0001")
    header, claims = jwt.get_unverified_header(real), jwt.decode(real, options={"verify_signature": False})
    # The same claims and the provider's key id, signed with a key an attacker holds.
    forged = jwt.encode({**claims, "jti": "forged"}, client_key_pem, algorithm="RS256", headers={"kid": header["kid"]})
    unsigned = jwt.encode({**claims, "jti": "unsigned"}, None, algorithm="none")

    assert _post(forged).status_code == 400
    assert _refused("logout_token_signature")
    assert _post(unsigned).status_code == 400
    assert _refused("logout_token_algorithm")
    assert _signed_in(client)


@pytest.mark.parametrize(
    "body", [{}, {"logout_token": ""}, {"logout_token": "not.a.token"}, {"logout_token": "é" * 5000}]
)
def test_nonsense_is_refused_with_a_clear_answer(body):
    response = Client().post(reverse(ENDPOINT), body)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request"}
    assert _refused("logout_token_malformed")


def test_only_post_is_answered():
    assert Client().get(reverse(ENDPOINT)).status_code == 405


def test_provider_down_asks_it_to_try_again(running_provider, sso_provider, smartcard_user):
    client = Client()
    sso_sign_in(client, running_provider, sso_provider, "smartcard")
    token = running_provider.logout_token(sub="cis2-0001")
    running_provider.stop()
    cache.clear()  # its keys are no longer known here, and cannot be fetched

    assert _post(token).status_code == 503
    assert _signed_in(client) is True


@pytest.fixture
def our_service(transactional_db, oidc_provider):
    """The service listening where the provider sends its back-channel logouts."""
    server = LiveServer(f"127.0.0.1:{oidc_provider.back_channel_port}")
    yield server
    server.stop()


def test_deactivation_at_the_provider_ends_the_session_before_the_next_request(
    our_service, running_provider, sso_provider, smartcard_user, password_only_user
):
    client, colleague = Client(), Client()
    sso_sign_in(client, running_provider, sso_provider, "smartcard")
    sso_sign_in(colleague, running_provider, sso_provider, "password-only")
    colleague.post(reverse("accounts:login_verify"), {"code": current_code()})
    assert _signed_in(client) and _signed_in(colleague)

    # The provider's administrator disables the account; the provider tells us over the back
    # channel before its answer comes back.
    running_provider.control("deactivate", user="cis2-0001")

    response = client.get(reverse("accounts:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert _ended(smartcard_user).count() == 1
    assert _signed_in(colleague)
