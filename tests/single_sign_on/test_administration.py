"""National admins set up providers; the demo's providers match the local provider's config."""

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Role
from audit.models import AuditAction, AuditEvent
from demo.single_sign_on import DEMO_PROVIDERS
from single_sign_on.models import ClientAuthMethod, IdentityProvider, LinkRequest, ProviderIdentity
from tests.conftest import signed_in
from tests.factories import user_with_role

pytestmark = pytest.mark.django_db

_FORM = {
    "name": "NHS CIS2",
    "issuer": "https://am.nhsidentity.spineservices.nhs.uk/openam/oauth2/realms/root/realms/NHSIdentity/realms/Healthcare",
    "client_id": "cpis-client",
    "scopes": "openid email profile",
    "subject_claim": "sub",
    "email_claim": "email",
    "acr_values_requested": "AAL2_OR_AAL3_ANY",
    "two_factor_acr": "AAL3_ANY",
    "two_factor_amr": "",
    "is_enabled": "on",
}


def test_client_secret_is_saved_never_shown_and_kept_when_left_empty(client, role_user, care_setting, settings):
    signed_in(client, role_user(Role.NATIONAL_ADMIN))
    url = reverse("single_sign_on:provider_edit", kwargs={"organisation_id": care_setting.pk})
    response = client.post(
        url, {**_FORM, "client_auth_method": ClientAuthMethod.CLIENT_SECRET_BASIC, "new_client_secret": "s3cret-value"}
    )
    assert response.status_code == 302
    provider = IdentityProvider.objects.get(organisation=care_setting)
    assert provider.client_secret == "s3cret-value"
    page = client.get(url).content.decode()
    assert "s3cret-value" not in page
    assert "A secret is saved." in page
    # What to register at the provider, back-channel logout included.
    assert settings.SITE_URL + reverse("single_sign_on:back_channel_logout") in page
    client.post(url, {**_FORM, "name": "CIS2", "client_auth_method": ClientAuthMethod.CLIENT_SECRET_BASIC})
    provider.refresh_from_db()
    assert (provider.name, provider.client_secret) == ("CIS2", "s3cret-value")
    event = AuditEvent.objects.filter(action=AuditAction.SSO_PROVIDER_CHANGED).first()
    assert event.detail["changed"] == ["name"]
    assert "s3cret" not in json.dumps(list(AuditEvent.objects.values_list("detail", flat=True)))


def test_missing_secret_and_openid_scope_are_explained(client, role_user, care_setting):
    signed_in(client, role_user(Role.NATIONAL_ADMIN))
    url = reverse("single_sign_on:provider_edit", kwargs={"organisation_id": care_setting.pk})
    response = client.post(
        url, {**_FORM, "scopes": "email", "client_auth_method": ClientAuthMethod.CLIENT_SECRET_BASIC}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Enter the client secret" in page
    assert "Include openid in the scopes" in page
    assert not IdentityProvider.objects.exists()


def test_private_key_jwt_publishes_only_the_public_key(client, role_user, care_setting):
    signed_in(client, role_user(Role.NATIONAL_ADMIN))
    url = reverse("single_sign_on:provider_edit", kwargs={"organisation_id": care_setting.pk})
    assert client.post(url, {**_FORM, "client_auth_method": ClientAuthMethod.PRIVATE_KEY_JWT}).status_code == 302
    provider = IdentityProvider.objects.get(organisation=care_setting)
    keys = client.get(reverse("single_sign_on:jwks")).json()["keys"]
    assert [k["kid"] for k in keys] == [provider.key_id]
    assert keys[0]["kty"] == "RSA"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(keys[0])
    assert provider.key_id in client.get(url).content.decode()


def test_declining_a_link_request_links_nothing(client, care_setting):
    provider = IdentityProvider.objects.create(
        organisation=care_setting,
        name="CIS2",
        issuer="https://idp.example",
        client_id="c",
        client_auth_method=ClientAuthMethod.CLIENT_SECRET_BASIC,
        client_secret="s",
        is_enabled=True,
    )
    user = user_with_role(Role.CLINICIAN, care_setting)
    link = LinkRequest.objects.create(provider=provider, issuer="https://idp.example", subject="abc", user=user)
    signed_in(client, user_with_role(Role.ORG_ADMIN, care_setting))
    client.post(reverse("single_sign_on:link_decide", kwargs={"link_request_id": link.pk}), {"decision": "decline"})
    link.refresh_from_db()
    assert link.confirmed is False
    assert not ProviderIdentity.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.SSO_LINK_DECLINED).exists()
    assert "nothing to confirm" in client.get(reverse("single_sign_on:link_requests")).content.decode()


def test_demo_providers_match_the_local_providers_configuration(settings):
    settings.DEBUG = True
    call_command("seed_demo")
    config = json.loads((Path(settings.BASE_DIR) / "demo" / "single_sign_on" / "provider.json").read_text())
    issuers = {f"http://127.0.0.1:{i['port']}": i for i in config["issuers"]}
    assert IdentityProvider.objects.filter(is_enabled=True).count() == len(DEMO_PROVIDERS) == len(issuers)
    for provider in IdentityProvider.objects.all():
        issuer = issuers[provider.issuer]
        (registered,) = [c for c in issuer["clients"] if c["client_id"] == provider.client_id]
        assert registered["token_endpoint_auth_method"] == provider.client_auth_method
        assert registered["redirect_uris"] == [settings.SITE_URL + reverse("single_sign_on:callback")]
        assert registered["backchannel_logout_uri"] == settings.SITE_URL + reverse("single_sign_on:back_channel_logout")
        subjects = {u["id"]: u for u in issuer["users"]}
        for identity in provider.identities.all():
            person = subjects[identity.subject]
            assert person["email"] == identity.user.email
            assert provider.assurance_is_two_factor(acr=person["acr"], amr=person["amr"])
