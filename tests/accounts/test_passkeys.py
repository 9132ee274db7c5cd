"""Passkeys: registering, listing and removing them, and signing in with one, as the second
factor after the password or passwordless. The WebAuthn responses come from a software
authenticator answering the server's real options (tests/accounts/authenticator.py)."""

import json
import os

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts.models import Role
from administration.services import two_factor_reset
from audit.models import AuditAction, AuditEvent, AuditOutcome
from tests.accounts.authenticator import SoftAuthenticator, b64url
from tests.accounts.test_login import current_code
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

JSON = "application/json"


def _post_json(client, name: str, body=None, **query):
    url = reverse(name) + (f"?next={query['next']}" if "next" in query else "")
    return client.post(url, json.dumps(body) if body is not None else "", content_type=JSON)


def confirm_it_is_you(client) -> None:
    """The password and a code again, as the page before adding a passkey asks (once per session)."""
    if client.session.get("reauthenticated_at"):
        return
    response = client.post(reverse("accounts:reauthenticate"), {"password": TEST_PASSWORD, "code": current_code()})
    assert response.status_code == 302, response.content


def register_passkey(client, name: str = "Work laptop", authenticator: SoftAuthenticator | None = None):
    authenticator = authenticator or SoftAuthenticator()
    confirm_it_is_you(client)
    assert client.post(reverse("accounts:passkey_add"), {"name": name}).status_code == 302
    begin = _post_json(client, "accounts:passkey_register_begin")
    assert begin.status_code == 200, begin.content
    complete = _post_json(client, "accounts:passkey_register_complete", authenticator.register(begin.json()))
    assert complete.status_code == 200, complete.content
    return authenticator


def passkey_sign_in(client, authenticator: SoftAuthenticator, **query):
    begin = _post_json(client, "accounts:passkey_authenticate_begin")
    assert begin.status_code == 200, begin.content
    return begin.json(), _post_json(
        client, "accounts:passkey_authenticate_complete", authenticator.assert_(begin.json()), **query
    )


def password_step(client, user):
    return client.post(reverse("accounts:login"), {"email": user.email, "password": TEST_PASSWORD})


def make_passkey(user, name: str = "Phone") -> WebAuthnCredential:
    return WebAuthnCredential.objects.create(
        user=user, name=name, credential_id=os.urandom(32), public_key=b"-", aaguid="", confirmed=True
    )


def actions(user) -> list[str]:
    return list(AuditEvent.objects.filter(user=user).order_by("id").values_list("action", flat=True))


@pytest.fixture
def clinician(role_user):
    return role_user(Role.CLINICIAN)


@pytest.fixture
def clinician_with_passkey(clinician, client_for):
    authenticator = register_passkey(client_for(clinician))
    return clinician, authenticator


# Registering, listing, removing ---------------------------------------------------------------


def test_clinician_adds_a_named_passkey_and_sees_it_listed(clinician, client_for):
    client = client_for(clinician)
    register_passkey(client, name="  Work   laptop ")
    passkey = WebAuthnCredential.objects.get(user=clinician)
    assert passkey.name == "Work laptop" and passkey.confirmed and passkey.discoverable
    page = client.get(reverse("accounts:passkeys")).content.decode()
    assert "Work laptop" in page and "Never" in page and "Passkey added: Work laptop" in page
    event = AuditEvent.objects.get(action=AuditAction.PASSKEY_REGISTERED)
    assert event.user == clinician and event.detail == {"passkey_id": passkey.pk, "discoverable": True}
    # The name is used once: the next passkey needs its own.
    assert _post_json(client, "accounts:passkey_register_begin").status_code == 400


def test_registration_asks_for_a_resident_key(clinician, client_for):
    client = client_for(clinician)
    confirm_it_is_you(client)
    client.post(reverse("accounts:passkey_add"), {"name": "Laptop"})
    options = _post_json(client, "accounts:passkey_register_begin").json()
    assert options["rp"] == {"name": "CP-IS", "id": "localhost"}
    assert options["authenticatorSelection"]["residentKey"] == "required"
    # The browser shows the name, never the e-mail address, in its chooser.
    assert options["user"]["displayName"] == clinician.full_name


def test_passkey_names_are_required_and_distinct(clinician, client_for):
    client = client_for(clinician)
    confirm_it_is_you(client)
    response = client.post(reverse("accounts:passkey_add"), {"name": " "})
    assert response.status_code == 400 and "Enter a name for the passkey" in response.content.decode()
    make_passkey(clinician, name="Phone")
    response = client.post(reverse("accounts:passkey_add"), {"name": "phone"})
    assert response.status_code == 400 and "already have a passkey with this name" in response.content.decode()
    response = client.post(reverse("accounts:passkey_add"), {"name": "x" * 65})
    assert response.status_code == 400


def test_create_page_without_a_name_goes_back_to_the_name(clinician, client_for):
    client = client_for(clinician)
    confirm_it_is_you(client)
    response = client.get(reverse("accounts:passkey_create"))
    assert response.status_code == 302 and response.url == reverse("accounts:passkey_add")


def test_registration_without_a_name_is_refused_and_audited(clinician, client_for):
    client = client_for(clinician)
    confirm_it_is_you(client)
    response = _post_json(client, "accounts:passkey_register_begin")
    assert response.status_code == 400
    assert response.json() == {"detail": "Give the passkey a name first.", "code": "name_missing"}
    event = AuditEvent.objects.get(action=AuditAction.PASSKEY_FAILED)
    assert event.user == clinician and event.outcome == AuditOutcome.FAILURE
    assert event.detail == {"stage": "register", "code": "name_missing"}
    # Audited once, by the ceremony, not again as a refused URL.
    assert not AuditEvent.objects.filter(action=AuditAction.ACCESS_REFUSED).exists()


def test_a_session_without_its_second_factor_cannot_add_a_passkey(clinician, client_for):
    client = client_for(clinician, verified=False)
    client.post(reverse("accounts:passkey_add"), {"name": "Laptop"})
    response = _post_json(client, "accounts:passkey_register_begin")
    assert response.status_code == 403 and response.json()["code"] == "user_not_verified"
    assert not WebAuthnCredential.objects.exists()


def test_registration_from_another_origin_is_refused(clinician, client_for):
    client = client_for(clinician)
    confirm_it_is_you(client)
    client.post(reverse("accounts:passkey_add"), {"name": "Laptop"})
    begin = _post_json(client, "accounts:passkey_register_begin").json()
    evil = SoftAuthenticator(origin="https://cpis.evil.example")
    response = _post_json(client, "accounts:passkey_register_complete", evil.register(begin))
    assert response.status_code == 422
    assert not WebAuthnCredential.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.PASSKEY_FAILED, user=clinician).count() == 1


def test_passkey_list_shows_only_the_users_own(clinician, role_user, client_for):
    make_passkey(clinician, name="Mine")
    make_passkey(role_user(Role.SOCIAL_WORKER), name="Theirs")
    page = client_for(clinician).get(reverse("accounts:passkeys")).content.decode()
    assert "Mine" in page and "Theirs" not in page


def test_passkey_is_removed_after_confirmation(clinician, client_for):
    client = client_for(clinician)
    passkey = make_passkey(clinician, name="Old phone")
    url = reverse("accounts:passkey_remove", kwargs={"passkey_id": passkey.pk})
    confirm = client.get(url)
    assert confirm.status_code == 200 and "Remove passkey" in confirm.content.decode()
    assert WebAuthnCredential.objects.filter(pk=passkey.pk).exists()
    response = client.post(url)
    assert response.status_code == 302 and response.url == reverse("accounts:passkeys")
    assert not WebAuthnCredential.objects.filter(pk=passkey.pk).exists()
    event = AuditEvent.objects.get(action=AuditAction.PASSKEY_REMOVED)
    assert event.user == clinician and event.outcome == AuditOutcome.SUCCESS
    assert event.detail == {"passkey_id": passkey.pk}


def test_the_last_second_factor_cannot_be_removed(role_user, client_for):
    # A user of child data whose authenticator app was removed (the Django admin) and who
    # has passkeys only: the last one stays.
    user = role_user(Role.CLINICIAN, enrolled=False)
    first, last = make_passkey(user, name="Laptop"), make_passkey(user, name="Phone")
    client = client_for(user)
    assert client.post(reverse("accounts:passkey_remove", kwargs={"passkey_id": first.pk})).status_code == 302
    url = reverse("accounts:passkey_remove", kwargs={"passkey_id": last.pk})
    page = client.get(url)
    assert "You cannot remove this passkey" in page.content.decode()
    assert "Remove passkey" not in page.content.decode()
    response = client.post(url)
    assert response.status_code == 409
    assert WebAuthnCredential.objects.filter(pk=last.pk).exists()
    refused = AuditEvent.objects.get(action=AuditAction.PASSKEY_REMOVED, outcome=AuditOutcome.DENIED)
    assert refused.detail == {"passkey_id": last.pk, "reason": "last_second_factor"}


def test_a_passkey_can_go_while_the_authenticator_app_stays(clinician, client_for):
    passkey = make_passkey(clinician)
    assert TOTPDevice.objects.filter(user=clinician, confirmed=True).exists()
    response = client_for(clinician).post(reverse("accounts:passkey_remove", kwargs={"passkey_id": passkey.pk}))
    assert response.status_code == 302 and not WebAuthnCredential.objects.exists()


def test_another_users_passkey_is_not_found(clinician, role_user, client_for):
    theirs = make_passkey(role_user(Role.SOCIAL_WORKER))
    client = client_for(clinician)
    url = reverse("accounts:passkey_remove", kwargs={"passkey_id": theirs.pk})
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    assert WebAuthnCredential.objects.filter(pk=theirs.pk).exists()
    refused = AuditEvent.objects.filter(action=AuditAction.ACCESS_REFUSED, user=clinician)
    assert refused.count() == 2 and refused.first().detail["passkey_id"] == theirs.pk


def test_two_factor_reset_removes_passkeys_too(clinician, role_user):
    make_passkey(clinician)
    admin = role_user(Role.ORG_ADMIN)
    two_factor_reset(user=clinician, organisation=admin.memberships.get().organisation, by=admin)
    assert not WebAuthnCredential.objects.filter(user=clinician).exists()
    assert AuditEvent.objects.get(action=AuditAction.OTP_RESET).detail["devices_removed"] == 2


# Second factor after the password ---------------------------------------------------------------


def test_verify_page_offers_a_passkey_only_to_users_with_one(clinician, role_user):
    client = Client()
    password_step(client, clinician)
    assert "passkey-verification-button" not in client.get(reverse("accounts:login_verify")).content.decode()
    make_passkey(clinician)
    page = client.get(reverse("accounts:login_verify")).content.decode()
    assert "passkey-verification-button" in page and 'id="otp_webauthn_config"' in page


def test_passkey_as_second_factor_after_the_password(clinician_with_passkey):
    user, authenticator = clinician_with_passkey
    client = Client()
    assert password_step(client, user).url == reverse("accounts:login_verify")
    assert client.get(reverse("accounts:home")).status_code == 302
    options, response = passkey_sign_in(client, authenticator)
    # The password named the user: the browser is told which passkeys are theirs.
    assert [c["id"] for c in options["allowCredentials"]] == [b64url(authenticator.credential_id)]
    # The password was one factor; the passkey's possession is the second.
    assert options["userVerification"] == "discouraged"
    assert response.status_code == 200
    assert response.json()["redirect_url"] == reverse("accounts:home")
    home = client.get(reverse("accounts:home"))
    assert home.status_code == 200 and 'name="nhs_number"' in home.content.decode()
    passkey = WebAuthnCredential.objects.get(user=user)
    assert passkey.last_used_at is not None and passkey.sign_count == 1
    assert actions(user)[-2:] == [AuditAction.LOGIN, AuditAction.PASSKEY_USED]
    used = AuditEvent.objects.get(action=AuditAction.PASSKEY_USED)
    assert used.detail == {"passkey_id": passkey.pk, "passwordless": False}


def test_second_factor_keeps_the_page_asked_for(clinician_with_passkey):
    user, authenticator = clinician_with_passkey
    client = Client()
    client.post(reverse("accounts:login") + "?next=/account/", {"email": user.email, "password": TEST_PASSWORD})
    _, response = passkey_sign_in(client, authenticator)
    assert response.json()["redirect_url"] == "/account/"


def test_another_users_passkey_is_refused_as_second_factor(clinician_with_passkey, role_user, client_for):
    _, authenticator = clinician_with_passkey
    other = role_user(Role.CLINICIAN)
    client = Client()
    password_step(client, other)
    _, response = passkey_sign_in(client, authenticator)
    assert response.status_code == 403 and response.json()["code"] == "credential_user_mismatch"
    assert client.get(reverse("accounts:home")).status_code == 302
    failed = AuditEvent.objects.get(action=AuditAction.PASSKEY_FAILED)
    assert failed.user == other and failed.outcome == AuditOutcome.DENIED
    assert failed.detail["code"] == "credential_user_mismatch"


def test_a_replayed_passkey_response_is_refused(clinician_with_passkey):
    user, authenticator = clinician_with_passkey
    client = Client()
    password_step(client, user)
    begin = _post_json(client, "accounts:passkey_authenticate_begin").json()
    answer = authenticator.assert_(begin)
    assert _post_json(client, "accounts:passkey_authenticate_complete", answer).status_code == 200
    replayer = Client()
    password_step(replayer, user)
    _post_json(replayer, "accounts:passkey_authenticate_begin")
    # A new challenge was issued: the old signed answer does not fit it.
    response = _post_json(replayer, "accounts:passkey_authenticate_complete", answer)
    assert response.status_code == 422
    # And the same challenge twice: its state is used up.
    response = _post_json(replayer, "accounts:passkey_authenticate_complete", answer)
    assert response.status_code == 400 and response.json()["code"] == "invalid_state"
    assert replayer.get(reverse("accounts:home")).status_code == 302


@pytest.mark.parametrize("body", ["not json", "[]", "{}", '{"id": 1, "response": "x"}'])
def test_malformed_ceremony_requests_get_a_clear_error(clinician_with_passkey, body):
    user, _ = clinician_with_passkey
    client = Client()
    password_step(client, user)
    _post_json(client, "accounts:passkey_authenticate_begin")
    response = client.post(reverse("accounts:passkey_authenticate_complete"), body, content_type=JSON)
    assert 400 <= response.status_code < 500 and response.json()["detail"]


# Passwordless --------------------------------------------------------------------------------------


def test_login_page_offers_a_passkey_with_scripts_from_static():
    page = Client().get(reverse("accounts:login")).content.decode()
    assert "passkey-verification-button" in page and "Sign in with a passkey" in page
    assert '<script type="module" src="/static/django_otp_webauthn/otp_webauthn_auth.js">' in page
    assert '<script type="module" src="/static/cpis/passkeys.js">' in page


def test_passwordless_sign_in_counts_as_two_factors(clinician_with_passkey):
    user, authenticator = clinician_with_passkey
    client = Client()
    options, response = passkey_sign_in(client, authenticator, next="/account/")
    # Nobody is named yet: the browser offers the passkeys it holds, and must verify the user.
    assert options["allowCredentials"] == [] and options["userVerification"] == "required"
    assert response.status_code == 200 and response.json()["redirect_url"] == "/account/"
    home = client.get(reverse("accounts:home")).content.decode()
    # The trained-user gate passes: signed in and verified, straight to the check.
    assert 'name="nhs_number"' in home
    used = AuditEvent.objects.get(action=AuditAction.PASSKEY_USED)
    assert used.user == user and used.detail["passwordless"] is True
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN, user=user).count() == 1


def test_passwordless_sign_in_ignores_an_unsafe_next(clinician_with_passkey):
    _, authenticator = clinician_with_passkey
    _, response = passkey_sign_in(Client(), authenticator, next="https://evil.example/")
    assert response.json()["redirect_url"] == reverse("accounts:home")


def test_passwordless_needs_user_verification(clinician_with_passkey):
    user, authenticator = clinician_with_passkey
    authenticator.user_verified = False
    client = Client()
    _, response = passkey_sign_in(client, authenticator)
    assert response.status_code == 422
    assert client.get(reverse("accounts:home")).status_code == 302
    assert not AuditEvent.objects.filter(action=AuditAction.PASSKEY_USED).exists()


def test_deactivated_user_cannot_sign_in_with_a_passkey(clinician_with_passkey):
    user, authenticator = clinician_with_passkey
    user.is_active = False
    user.save(update_fields=["is_active"])
    client = Client()
    _, response = passkey_sign_in(client, authenticator)
    assert response.status_code == 403 and response.json()["code"] == "user_disabled"
    assert "not active" in response.json()["detail"]
    assert client.get(reverse("accounts:home")).status_code == 302


def test_locked_out_account_cannot_sign_in_with_a_passkey(clinician_with_passkey, settings):
    user, authenticator = clinician_with_passkey
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("accounts:login"), {"email": user.email, "password": "wrong-password-123"})
    _, response = passkey_sign_in(client, authenticator)
    assert response.status_code == 429 and response.json()["code"] == "locked_out"
    assert client.get(reverse("accounts:home")).status_code == 302
    locked = AuditEvent.objects.filter(action=AuditAction.LOGIN_LOCKED_OUT, user=user).order_by("id").last()
    assert locked.outcome == AuditOutcome.DENIED and "passkey_id" in locked.detail


def test_removed_passkey_no_longer_signs_in(clinician_with_passkey):
    user, authenticator = clinician_with_passkey
    WebAuthnCredential.objects.filter(user=user).delete()
    _, response = passkey_sign_in(Client(), authenticator)
    assert response.status_code == 404 and "not registered" in response.json()["detail"]


def test_signed_in_user_cannot_start_a_passkey_sign_in(clinician, client_for):
    response = _post_json(client_for(clinician), "accounts:passkey_authenticate_begin")
    assert response.status_code == 403 and response.json()["code"] == "already_signed_in"


def test_password_user_with_only_a_passkey_is_asked_for_it_not_enrolled(role_user):
    user = role_user(Role.CLINICIAN, enrolled=False)
    make_passkey(user)
    client = Client()
    assert password_step(client, user).url == reverse("accounts:login_verify")
    assert client.get(reverse("accounts:login_enrol")).url == reverse("accounts:login_verify")
