"""The single sign-on callback's "has this user a second factor?" is the one rule's answer
(accounts/second_factors.py, issue 24 item 14): after a provider's sign-in that is not two-factor,
a user with a passkey and no authenticator app is asked for the passkey, never sent to enrol."""

import os

import pytest
from django.test import Client
from django.urls import reverse
from django_otp_webauthn.models import WebAuthnCredential

from accounts.models import Role
from tests.factories import user_with_role
from tests.single_sign_on.conftest import link, sso_sign_in

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("passkey", "expected"), [(True, "accounts:login_verify"), (False, "accounts:login_enrol")])
def test_callback_asks_for_our_factor_exactly_when_there_is_one(
    running_provider, sso_provider, care_setting, passkey, expected
):
    user = user_with_role(Role.CLINICIAN, care_setting, enrolled=False)
    link(sso_provider, user, "cis2-0002")
    if passkey:
        WebAuthnCredential.objects.create(
            user=user, name="Phone", credential_id=os.urandom(32), public_key=b"-", aaguid="", confirmed=True
        )
    response = sso_sign_in(Client(), running_provider, sso_provider, "password-only")
    assert response.status_code == 302 and response["Location"] == reverse(expected)
