import pytest
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from accounts.models import Role
from single_sign_on import throttles
from single_sign_on.models import ClientAuthMethod, IdentityProvider, LinkMethod, ProviderIdentity
from tests.factories import user_with_role
from tests.single_sign_on.provider_process import CLIENT_SECRET, ProviderProcess


@pytest.fixture(autouse=True)
def _fresh_limits():
    # The logout limits' counters live in Redis, which outlives each test's database, and the
    # key refetch times in this process.
    cache.clear()
    throttles.reset()


@pytest.fixture(scope="session")
def client_key_pem() -> str:
    """Our private_key_jwt client key; the provider is registered with its public half."""
    key = IdentityProvider()
    key.private_key_generate()
    return key.private_key_pem


def _redirect_uri(base: str) -> str:
    return base.rstrip("/") + "/sign-in/organisation/callback/"


@pytest.fixture(scope="session")
def oidc_provider(client_key_pem):
    process = ProviderProcess(
        redirect_uri=_redirect_uri(settings.SITE_URL),
        post_logout_redirect_uri=settings.SITE_URL.rstrip("/") + "/login/",
        client_public_jwk=IdentityProvider(private_key_pem=client_key_pem).public_jwk(),
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
def running_provider(oidc_provider):
    """The provider, started again if a test stopped it."""
    if oidc_provider.process is None:
        oidc_provider.start()
    cache.clear()
    yield oidc_provider
    if oidc_provider.process is None:
        oidc_provider.start()
    oidc_provider.control("id-token-ttl", seconds=600)
    oidc_provider.control("reactivate")


@pytest.fixture
def sso_provider(db, running_provider, care_setting) -> IdentityProvider:
    return IdentityProvider.objects.create(
        organisation=care_setting,
        name="Test CIS2",
        issuer=running_provider.issuer,
        client_id="cpis-test",
        client_auth_method=ClientAuthMethod.CLIENT_SECRET_BASIC,
        client_secret=CLIENT_SECRET,
        two_factor_acr="AAL3_ANY",
        is_enabled=True,
    )


def link(provider: IdentityProvider, user, subject: str) -> ProviderIdentity:
    return ProviderIdentity.objects.create(
        provider=provider, issuer=provider.issuer_normalised, subject=subject, user=user, method=LinkMethod.INVITATION
    )


@pytest.fixture
def smartcard_user(sso_provider, care_setting):
    user = user_with_role(Role.CLINICIAN, care_setting)
    link(sso_provider, user, "cis2-0001")
    return user


@pytest.fixture
def password_only_user(sso_provider, care_setting):
    user = user_with_role(Role.CLINICIAN, care_setting)
    link(sso_provider, user, "cis2-0002")
    return user


USERS = {"smartcard": "pw-smartcard", "password-only": "pw-password-only", "stranger": "pw-stranger"}


def provider_redirect(client, provider: IdentityProvider):
    response = client.get(reverse("single_sign_on:start", kwargs={"provider_id": provider.pk}))
    assert response.status_code == 302, response.status_code
    return response["Location"]


def sign_in_at_provider(process: ProviderProcess, authorization_url: str, username: str) -> str:
    """The callback path (with its query) the provider sends the browser back to."""
    back = process.sign_in(
        authorization_url,
        username=username,
        password=USERS[username],
        redirect_uri=_redirect_uri(settings.SITE_URL),
    )
    return back[len(settings.SITE_URL.rstrip("/")) :]


def sso_sign_in(client, process: ProviderProcess, provider: IdentityProvider, username: str):
    callback = sign_in_at_provider(process, provider_redirect(client, provider), username)
    return client.get(callback)
