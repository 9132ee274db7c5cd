"""The public back-channel logout endpoint's limits (issue 24 item 3): refused logout tokens per
client address and per provider, one audit row per window once limited, and at most one fetch of
the provider's keys per interval however many unknown key ids are sent."""

import datetime as dt
import time
import uuid

import httpx
import jwt
import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from audit.models import AuditAction, AuditEvent
from single_sign_on import throttles
from tests.single_sign_on.conftest import sso_sign_in

pytestmark = pytest.mark.django_db

ENDPOINT = "single_sign_on:back_channel_logout"
ATTACKER, OTHERS, PROVIDER = "203.0.113.9", ["198.51.100.1", "198.51.100.2", "198.51.100.3"], "192.0.2.10"


@pytest.fixture(autouse=True)
def _start_of_a_minute():
    """The counters' windows are clock minutes: each test starts at the beginning of one (ahead
    of the provider's clock by under a minute, which its tokens' ten minutes allow)."""
    start = dt.datetime.now(tz=dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(minutes=1, seconds=1)
    with time_machine.travel(start, tick=True):
        yield


def _post(token: str, address: str):
    return Client().post(reverse(ENDPOINT), {"logout_token": token}, REMOTE_ADDR=address)


def _refusals(**filters):
    return AuditEvent.objects.filter(action=AuditAction.SSO_REFUSED, **filters)


def _forged(process, client_key_pem: str, *, kid: str | None = None) -> str:
    """A logout token with the provider's claims, signed with a key an attacker holds."""
    real = process.logout_token(sub="cis2-0001")
    header, claims = jwt.get_unverified_header(real), jwt.decode(real, options={"verify_signature": False})
    claims["jti"] = str(uuid.uuid4())
    return jwt.encode(claims, client_key_pem, algorithm="RS256", headers={"kid": kid or header["kid"]})


def _assert_limited(response):
    assert response.status_code == 429
    assert response.json() == {"error": "temporarily_unavailable"}
    assert response["Cache-Control"] == "no-store"
    assert 1 <= int(response["Retry-After"]) <= 60


def test_refused_tokens_from_one_address_are_limited_and_audited_once(settings):
    settings.SSO_LOGOUT_ADDRESS_LIMIT = 3

    responses = [_post("not.a.token", ATTACKER) for _ in range(8)]

    assert [r.status_code for r in responses] == [400, 400, 400] + [429] * 5
    for response in responses[3:]:
        _assert_limited(response)
    from_attacker = _refusals(ip_address=ATTACKER)
    assert from_attacker.filter(detail__reason="logout_token_malformed").count() == 3
    assert from_attacker.filter(detail__reason="logout_rate_limited").count() == 1
    assert from_attacker.count() == 4
    # Another address is heard as before.
    assert _post("not.a.token", OTHERS[0]).status_code == 400


def test_the_provider_logs_out_while_junk_naming_it_arrives_from_elsewhere(
    settings, running_provider, sso_provider, smartcard_user, client_key_pem
):
    settings.SSO_LOGOUT_ADDRESS_LIMIT = 4
    settings.SSO_LOGOUT_PROVIDER_LIMIT = 5
    client = Client()
    sso_sign_in(client, running_provider, sso_provider, "smartcard")

    # Forged tokens naming the provider, from the attacker and from others, a few each.
    statuses = [
        _post(_forged(running_provider, client_key_pem), address).status_code for address in [ATTACKER] * 6 + OTHERS * 2
    ]
    # The attacker's fifth is not even read; the others' second refusal puts the provider over.
    assert statuses == [400] * 4 + [429] * 2 + [400] + [429] * 5, statuses
    # Once the provider's count is over, junk naming it is limited from any address.
    _assert_limited(_post(_forged(running_provider, client_key_pem), "198.51.100.99"))

    response = _post(running_provider.logout_token(sub="cis2-0001"), PROVIDER)

    assert response.status_code == 200
    assert client.get(reverse("accounts:home")).status_code == 302
    refused = _refusals(detail__provider_id=sso_provider.pk)
    assert refused.filter(detail__reason="logout_token_signature").count() == 5
    assert refused.filter(detail__reason="logout_rate_limited").count() == 1
    assert refused.count() == 6
    # The address limited before its token was read names no provider: audited once too.
    assert _refusals(detail__provider_id=None, ip_address=ATTACKER, detail__reason="logout_rate_limited").count() == 1


def test_tokens_naming_no_provider_share_one_count(settings):
    settings.SSO_LOGOUT_PROVIDER_LIMIT = 2
    statuses = [_post("not.a.token", address).status_code for address in [ATTACKER, *OTHERS]]
    assert statuses == [400, 400, 429, 429]
    assert _refusals(detail__reason="logout_rate_limited").count() == 1


def _jwks_path(process) -> str:
    document = httpx.get(f"{process.issuer}/.well-known/openid-configuration", timeout=5).json()
    return httpx.URL(document["jwks_uri"]).path


def _fetches_for(process, client_key_pem: str, count: int) -> int:
    """How often the provider's keys were fetched while `count` tokens with unknown kids came."""
    path = _jwks_path(process)
    before = process.requests_for(path)
    for n in range(count):
        response = _post(_forged(process, client_key_pem, kid=f"unknown-{uuid.uuid4()}"), OTHERS[n % 3])
        assert response.status_code == 400
    return process.requests_for(path) - before


def test_unknown_key_ids_fetch_the_providers_keys_at_most_once_an_interval(
    settings, running_provider, sso_provider, client_key_pem
):
    settings.SSO_KEY_REFETCH_SECONDS = 60
    # The keys are fetched (none cached yet), then fetched again for the first unknown kid only.
    assert _fetches_for(running_provider, client_key_pem, 10) == 2
    assert _fetches_for(running_provider, client_key_pem, 10) == 0
    assert _refusals(detail__reason="unknown_signing_key").count() == 20


def test_after_the_interval_an_unknown_key_id_is_looked_for_again(
    settings, running_provider, sso_provider, client_key_pem
):
    settings.SSO_KEY_REFETCH_SECONDS = 1
    assert _fetches_for(running_provider, client_key_pem, 1) == 2
    time.sleep(1.5)
    # So a rotation at the provider still shows, a little later at worst.
    assert _fetches_for(running_provider, client_key_pem, 1) == 1


def test_a_process_fetches_keys_once_an_interval_without_the_cache(settings, sso_provider):
    settings.SSO_KEY_REFETCH_SECONDS = 60
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    with pytest.raises(Exception):  # noqa: B017 - the point: nothing answers on port 1
        cache.get("anything")

    assert [throttles.key_refetch_allowed(sso_provider) for _ in range(3)] == [True, False, False]


def test_the_limits_let_logout_requests_through_when_the_cache_is_down(settings):
    settings.SSO_LOGOUT_ADDRESS_LIMIT = settings.SSO_LOGOUT_PROVIDER_LIMIT = 1
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    with pytest.raises(Exception):  # noqa: B017 - the point: nothing answers on port 1
        cache.get("anything")

    assert [_post("not.a.token", ATTACKER).status_code for _ in range(3)] == [400, 400, 400]
    assert _refusals(detail__reason="logout_token_malformed").count() == 3


def test_tokens_naming_a_provider_that_is_down_count_towards_the_limits(
    settings, running_provider, sso_provider, client_key_pem
):
    settings.SSO_LOGOUT_ADDRESS_LIMIT = 2
    token = _forged(running_provider, client_key_pem)
    running_provider.stop()
    cache.clear()  # its keys are no longer known here, and cannot be fetched
    # Each would cost a call to the provider: after two, the address is not heard out.
    assert [_post(token, ATTACKER).status_code for _ in range(4)] == [503, 503, 429, 429]
