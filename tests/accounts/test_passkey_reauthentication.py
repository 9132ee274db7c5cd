"""A stolen session must not become a permanent passwordless sign-in (issue 24 item 1): adding a
passkey needs a fresh second factor, its owner is e-mailed when one is added or removed, a new
password can take every passkey with it, and an administrator's two-factor reset removes them."""

import time

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django_otp_webauthn.models import WebAuthnCredential

from accounts.models import Role
from accounts.passwords import reset_link_token
from administration.services import two_factor_reset
from audit.models import AuditAction, AuditEvent, AuditOutcome
from tests.accounts.authenticator import b64url
from tests.accounts.test_login import current_code, password_step
from tests.accounts.test_passkeys import _post_json, make_passkey, passkey_sign_in, register_passkey
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

ADD = reverse("accounts:passkey_add")
CONFIRM = reverse("accounts:reauthenticate")
NEW_PASSWORD = "a-brand-new-passphrase-77"


@pytest.fixture
def clinician(role_user):
    return role_user(Role.CLINICIAN)


def _sent(subject_start: str) -> list:
    return [m for m in mail.outbox if m.subject.startswith(subject_start)]


# A fresh second factor ------------------------------------------------------------------------


def test_a_session_alone_cannot_add_a_passkey(clinician, client_for):
    # Signed in with both factors, but not in the last few minutes: a copied session cookie.
    client = client_for(clinician)
    response = client.get(ADD)
    assert response.status_code == 302 and response.url == f"{CONFIRM}?next=%2Faccount%2Fpasskeys%2Fadd%2F"
    assert client.post(ADD, {"name": "Thief"}).status_code == 302
    assert client.get(reverse("accounts:passkey_create")).url.startswith(CONFIRM)
    # Nor by calling the ceremony directly.
    begin = _post_json(client, "accounts:passkey_register_begin")
    assert begin.status_code == 403 and begin.json()["code"] == "reauthentication_required"
    complete = _post_json(client, "accounts:passkey_register_complete", {"id": "x"})
    assert complete.status_code == 403
    assert not WebAuthnCredential.objects.exists()
    refused = AuditEvent.objects.filter(action=AuditAction.PASSKEY_FAILED, user=clinician)
    assert {e.outcome for e in refused} == {AuditOutcome.DENIED}
    assert {e.detail["code"] for e in refused} == {"reauthentication_required"}


def test_password_and_code_confirm_it_is_you_then_the_passkey_is_added_and_its_owner_told(
    clinician, client_for, django_capture_on_commit_callbacks
):
    client = client_for(clinician)
    page = client.get(CONFIRM + "?next=/account/passkeys/add/")
    assert page.status_code == 200 and "Confirm it is you" in page.content.decode()
    wrong = client.post(CONFIRM, {"password": "not-my-password", "code": current_code()})
    assert wrong.status_code == 400 and "Your password is not correct" in wrong.content.decode()
    refused = AuditEvent.objects.get(action=AuditAction.REAUTHENTICATED)
    assert refused.outcome == AuditOutcome.FAILURE and refused.detail == {"reason": "wrong_password"}
    confirmed = client.post(
        CONFIRM + "?next=/account/passkeys/add/", {"password": TEST_PASSWORD, "code": current_code()}
    )
    assert confirmed.status_code == 302 and confirmed.url == ADD
    assert AuditEvent.objects.filter(action=AuditAction.REAUTHENTICATED, outcome=AuditOutcome.SUCCESS).count() == 1
    assert client.get(ADD).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        register_passkey(client, name="Laptop of Jo Bloggs")
    assert WebAuthnCredential.objects.filter(user=clinician).count() == 1
    (message,) = _sent("A passkey was added")
    assert message.to == [clinician.email]
    # Their name and when; nothing else about them, nor the passkey's own name.
    assert f"Hello {clinician.full_name}," in message.body
    assert "Jo Bloggs" not in message.body and clinician.email not in message.body


def test_a_wrong_code_on_the_confirmation_page_is_refused(clinician, client_for):
    client = client_for(clinician)
    wrong = f"{(int(current_code()) + 500_000) % 1_000_000:06d}"
    response = client.post(CONFIRM, {"password": TEST_PASSWORD, "code": wrong})
    assert response.status_code == 400 and "The security code is not correct" in response.content.decode()
    assert AuditEvent.objects.filter(action=AuditAction.OTP_FAILED, user=clinician).exists()
    assert client.get(ADD).status_code == 302


def test_the_confirmation_lasts_only_the_window(clinician, client_for, settings):
    settings.REAUTHENTICATION_WINDOW = 300
    client = client_for(clinician)
    session = client.session
    session["reauthenticated_at"] = time.time() - 299
    session.save()
    assert client.get(ADD).status_code == 200
    session["reauthenticated_at"] = time.time() - 301
    session.save()
    assert client.get(ADD).status_code == 302
    assert _post_json(client, "accounts:passkey_register_begin").status_code == 403


def test_signing_in_with_password_and_code_counts_as_confirming(clinician):
    client = Client()
    password_step(client, clinician)
    assert client.post(reverse("accounts:login_verify"), {"code": current_code()}).status_code == 302
    assert client.get(ADD).status_code == 200


def test_wrong_passwords_on_the_confirmation_page_count_towards_the_lockout(clinician, client_for, settings):
    client = client_for(clinician)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(CONFIRM, {"password": "guess-guess-guess", "code": "000000"}, REMOTE_ADDR="203.0.113.9")
    response = client.post(CONFIRM, {"password": TEST_PASSWORD, "code": current_code()}, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 429
    assert client.get(ADD).status_code == 302
    # The owner, elsewhere, is not locked out.
    assert password_step(Client(), clinician, REMOTE_ADDR="192.0.2.44").status_code == 302


def test_an_existing_passkey_confirms_it_is_you(clinician, client_for):
    authenticator = register_passkey(client_for(clinician))
    client = client_for(clinician)
    assert client.get(ADD).status_code == 302
    assert 'id="passkey-verification-placeholder"' in client.get(CONFIRM).content.decode()
    begin = _post_json(client, "accounts:reauthenticate_passkey_begin")
    assert begin.status_code == 200
    assert [c["id"] for c in begin.json()["allowCredentials"]] == [b64url(authenticator.credential_id)]
    complete = _post_json(client, "accounts:reauthenticate_passkey_complete", authenticator.assert_(begin.json()))
    assert complete.status_code == 200 and complete.json()["redirect_url"] == ADD
    assert client.get(ADD).status_code == 200
    passkey = WebAuthnCredential.objects.get(user=clinician)
    event = AuditEvent.objects.filter(action=AuditAction.REAUTHENTICATED, user=clinician).order_by("id").last()
    assert event.outcome == AuditOutcome.SUCCESS and event.detail == {"device": passkey.persistent_id}


def test_someone_elses_passkey_does_not_confirm_it_is_you(clinician, role_user, client_for):
    other = role_user(Role.CLINICIAN)
    theirs = register_passkey(client_for(other))
    client = client_for(clinician)
    begin = _post_json(client, "accounts:reauthenticate_passkey_begin").json()
    response = _post_json(client, "accounts:reauthenticate_passkey_complete", theirs.assert_(begin))
    assert response.status_code in (403, 404) and response.json()["code"] in (
        "credential_user_mismatch",
        "credential_not_found",
    )
    assert client.get(ADD).status_code == 302


# Telling the owner, and removing passkeys -------------------------------------------------------


def test_removing_a_passkey_tells_its_owner(clinician, client_for, django_capture_on_commit_callbacks):
    passkey = make_passkey(clinician)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(clinician).post(reverse("accounts:passkey_remove", kwargs={"passkey_id": passkey.pk}))
    assert response.status_code == 302
    (message,) = _sent("A passkey was removed")
    assert message.to == [clinician.email]


def test_changing_the_password_offers_to_remove_every_passkey(
    clinician, client_for, django_capture_on_commit_callbacks
):
    authenticator = register_passkey(client_for(clinician))
    make_passkey(clinician, name="Second")
    client = client_for(clinician)
    page = client.get(reverse("accounts:password_change")).content.decode()
    assert 'name="remove_passkeys"' in page and "Also remove your 2 passkeys" in page
    form = {"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("accounts:password_change"), {**form, "code": current_code(offset=1), "remove_passkeys": "on"}
        )
    assert response.status_code == 302
    assert not WebAuthnCredential.objects.filter(user=clinician).exists()
    changed = AuditEvent.objects.get(action=AuditAction.PASSWORD_CHANGED)
    assert changed.detail["passkeys_removed"] == 2
    removed = AuditEvent.objects.filter(action=AuditAction.PASSKEY_REMOVED, user=clinician)
    assert removed.count() == 2 and {e.detail["reason"] for e in removed} == {"password_changed"}
    (message,) = _sent("Your passkeys were removed")
    assert "2 passkeys were removed" in message.body
    # The thief's passkey no longer signs in.
    _, signed_in = passkey_sign_in(Client(), authenticator)
    assert signed_in.status_code == 404


def test_changing_the_password_keeps_the_passkeys_unless_asked(clinician, client_for):
    make_passkey(clinician)
    form = {"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
    response = client_for(clinician).post(reverse("accounts:password_change"), {**form, "code": current_code()})
    assert response.status_code == 302
    assert WebAuthnCredential.objects.filter(user=clinician).count() == 1
    assert AuditEvent.objects.get(action=AuditAction.PASSWORD_CHANGED).detail["passkeys_removed"] == 0


def test_no_choice_to_remove_passkeys_that_are_the_last_second_factor(role_user, client_for):
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

    # Passkeys and backup codes only (an operator removed the authenticator app): removing the
    # passkeys would leave the password alone to enrol a new factor.
    user = role_user(Role.CLINICIAN, enrolled=False)
    make_passkey(user)
    backup = StaticDevice.objects.create(user=user, name="Backup codes", confirmed=True)
    StaticToken.objects.create(device=backup, token="backup42")
    client = client_for(user)
    assert 'name="remove_passkeys"' not in client.get(reverse("accounts:password_change")).content.decode()
    form = {"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
    response = client.post(reverse("accounts:password_change"), {**form, "code": "backup42", "remove_passkeys": "on"})
    assert response.status_code == 302
    assert WebAuthnCredential.objects.filter(user=user).count() == 1


def test_a_reset_link_offers_to_remove_every_passkey_too(clinician):
    make_passkey(clinician)
    client = Client()
    client.get(reverse("accounts:password_reset_link", kwargs={"token": reset_link_token(clinician)}))
    assert "Also remove your 1 passkey" in client.get(reverse("accounts:password_reset")).content.decode()
    form = {"new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
    response = client.post(
        reverse("accounts:password_reset"), {**form, "code": current_code(), "remove_passkeys": "on"}
    )
    assert response.status_code == 302
    assert not WebAuthnCredential.objects.filter(user=clinician).exists()
    assert AuditEvent.objects.get(action=AuditAction.PASSWORD_RESET_COMPLETED).detail["passkeys_removed"] == 1


def test_an_administrators_two_factor_reset_removes_every_passkey_audited_and_told(
    clinician, role_user, django_capture_on_commit_callbacks
):
    make_passkey(clinician, name="One")
    make_passkey(clinician, name="Two")
    admin = role_user(Role.ORG_ADMIN)
    with django_capture_on_commit_callbacks(execute=True):
        two_factor_reset(user=clinician, organisation=admin.memberships.get().organisation, by=admin)
    assert not WebAuthnCredential.objects.filter(user=clinician).exists()
    event = AuditEvent.objects.get(action=AuditAction.OTP_RESET)
    assert event.user == admin and event.detail["passkeys_removed"] == 2
    (message,) = _sent("Your CP-IS two-factor authentication was reset")
    assert message.to == [clinician.email] and "2 passkeys were removed" in message.body
