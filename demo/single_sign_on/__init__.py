"""The demo's single sign-on: two organisations signing in through the local OpenID Connect
provider that `make run` starts (provider.mjs with provider.json, beside this module)."""

from accounts.models import Organisation, User
from single_sign_on.models import ClientAuthMethod, IdentityProvider, LinkMethod, ProviderIdentity

# (ODS code, provider settings, [(our user's e-mail, subject at the provider)])
DEMO_PROVIDERS = [
    (
        "RDE01",
        {
            "name": "NHS CIS2 (demo)",
            "issuer": "http://127.0.0.1:9400",
            "client_id": "cpis-demo",
            "client_auth_method": ClientAuthMethod.PRIVATE_KEY_JWT,
            "scopes": "openid email profile",
            "acr_values_requested": "AAL2_OR_AAL3_ANY",
            "two_factor_acr": "AAL3_ANY",
            "is_enabled": True,
        },
        [("clinician@demo.example", "demo-cis2-clinician")],
    ),
    (
        "LA001",
        {
            "name": "Northshire Council sign-in (demo)",
            "issuer": "http://127.0.0.1:9401",
            "client_id": "cpis-demo",
            "client_auth_method": ClientAuthMethod.CLIENT_SECRET_BASIC,
            "client_secret": "demo-council-client-secret",
            "scopes": "openid email profile",
            "two_factor_amr": "mfa",
            "is_enabled": True,
        },
        [("social.worker@demo.example", "demo-council-social-worker")],
    ),
]


def seed_single_sign_on_demo() -> int:
    for ods_code, settings, links in DEMO_PROVIDERS:
        organisation = Organisation.objects.get(ods_code=ods_code)
        provider = IdentityProvider.objects.filter(organisation=organisation).first() or IdentityProvider(
            organisation=organisation
        )
        for name, value in settings.items():
            setattr(provider, name, value)
        if provider.client_auth_method == ClientAuthMethod.PRIVATE_KEY_JWT and not provider.private_key_pem:
            provider.private_key_generate()
        provider.save()
        for email, subject in links:
            ProviderIdentity.objects.get_or_create(
                issuer=provider.issuer_normalised,
                subject=subject,
                defaults={"provider": provider, "user": User.objects.get(email=email), "method": LinkMethod.INVITATION},
            )
    return len(DEMO_PROVIDERS)
