"""One answer to "has this user a second factor?" (issue 24 item 14): every place that asks gives
the answer of accounts/second_factors.py for the kinds it counts, for every mix of factors.

Two kinds of caller: those that route or gate a sign-in (the authenticator or a passkey, which our
own pages can check) and those that report enrolment to an administrator (a provider's assurance
counts too). The single sign-on callback is checked against a real provider in
tests/single_sign_on/test_second_factor_parity.py.
"""

import os

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts.models import Role
from accounts.passwords import reset_link_token
from accounts.second_factors import has_second_factor
from administration.selectors import review_rows
from fhir.services import api_token_issue
from single_sign_on.models import ClientAuthMethod, IdentityProvider, ProviderAssuranceDevice
from tests.accounts.test_dashboards import _figures
from tests.accounts.test_login import password_step
from tests.factories import TEST_TOTP_KEY, nhs_number_for, user_with_role

pytestmark = pytest.mark.django_db

# factors held → (sign-in answer, enrolment answer)
EXPECTED = {
    "none": (False, False),
    "authenticator": (True, True),
    "passkey": (True, True),
    "provider_assurance": (False, True),
    "backup_codes_only": (False, False),
}


def _passkey(user, name="Phone"):
    return WebAuthnCredential.objects.create(
        user=user, name=name, credential_id=os.urandom(32), public_key=b"-", aaguid="", confirmed=True
    )


def _give(user, factors: str, organisation) -> None:
    if factors == "authenticator":
        TOTPDevice.objects.create(user=user, name="Phone", key=TEST_TOTP_KEY, confirmed=True)
    elif factors == "passkey":
        _passkey(user)
    elif factors == "provider_assurance":
        provider = IdentityProvider.objects.create(
            organisation=organisation,
            name="CIS2",
            issuer="https://cis2.example",
            client_id="cpis",
            client_auth_method=ClientAuthMethod.CLIENT_SECRET_BASIC,
            client_secret="s",  # noqa: S106 - a test provider's
        )
        ProviderAssuranceDevice.objects.create(user=user, provider=provider, name="CIS2", confirmed=True)
    elif factors == "backup_codes_only":
        StaticDevice.objects.create(user=user, name="Backup codes", confirmed=True)


@pytest.fixture(params=sorted(EXPECTED))
def subject(request, care_setting):
    user = user_with_role(Role.CLINICIAN, care_setting, enrolled=False)
    _give(user, request.param, care_setting)
    sign_in, enrolment = EXPECTED[request.param]
    return user, sign_in, enrolment


def test_the_one_function_answers_as_the_table(subject):
    user, sign_in, enrolment = subject
    assert has_second_factor(user) is sign_in
    assert has_second_factor(user, provider_assurance=True) is enrolment


# Sign-in callers ----------------------------------------------------------------------------


def test_password_sign_in_asks_for_the_factor_exactly_when_there_is_one(subject):
    user, sign_in, _ = subject
    client = Client()
    location = password_step(client, user)["Location"]
    assert location == reverse("accounts:login_verify" if sign_in else "accounts:login_enrol")
    # And enrolment sends the same users back to the verify page.
    enrol = client.get(reverse("accounts:login_enrol"))
    assert (enrol.status_code == 302 and enrol["Location"] == reverse("accounts:login_verify")) is sign_in


def test_reset_link_asks_for_the_factor_exactly_when_there_is_one(subject):
    user, sign_in, _ = subject
    client = Client()
    client.get(reverse("accounts:password_reset_link", kwargs={"token": reset_link_token(user)}))
    page = client.get(reverse("accounts:password_reset")).content.decode()
    assert ('name="code"' in page) is sign_in


def test_a_passkey_can_go_exactly_when_another_factor_stays(subject, client_for):
    user, sign_in, _ = subject
    leaving = _passkey(user, name="Leaving")
    response = client_for(user).post(reverse("accounts:passkey_remove", kwargs={"passkey_id": leaving.pk}))
    assert response.status_code == (302 if sign_in else 409)


def test_api_token_works_exactly_when_its_owner_has_a_factor(subject, care_setting):
    user, sign_in, _ = subject
    _, raw = api_token_issue(user=user, organisation=care_setting, name="EPR", valid_days=1)
    response = Client().get(
        "/fhir/R4/CareTeam",
        {"patient:identifier": f"https://fhir.nhs.uk/Id/nhs-number|{nhs_number_for(3)}"},
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert response.status_code == (200 if sign_in else 403)


# Enrolment as administrators see it -------------------------------------------------------------


def test_administrators_see_enrolment_as_the_one_function_says(subject, care_setting, client_for):
    user, _, enrolment = subject
    admin = user_with_role(Role.ORG_ADMIN, care_setting)
    client = client_for(admin)
    detail = client.get(reverse("administration:user_detail", kwargs={"user_id": user.pk})).content.decode()
    assert ("Not set up: they will set it up" not in detail) is enrolment
    (row,) = [r for r in review_rows(care_setting) if r["user"] == user]
    assert row["two_factor"] is enrolment
    # The admin is enrolled with the authenticator; the subject counts or not.
    figures = _figures(client.get("/").content.decode())
    assert figures["without two-factor authentication"][0] == ("0" if enrolment else "1")


def test_passkey_registration_asks_a_verified_session_of_anyone_enrolled(subject, client_for):
    from accounts.passkey_views import PasskeyRegistrationBegin

    user, _, enrolment = subject
    view = PasskeyRegistrationBegin()
    assert view.user_is_mfa_enrolled(user) is enrolment
