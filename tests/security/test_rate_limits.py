"""Rate limits (issue 12 finding 7): bad bearer tokens per client address, a user's tokens sharing
the user's limit, and checks per user per hour with the organisation's admins told."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from attendances.services import CheckRateLimited, child_check
from audit.models import AuditAction, AuditEvent, AuditOutcome
from fhir.services import api_token_issue
from tests.factories import PlanFactory, nhs_number_for

pytestmark = pytest.mark.django_db

NHS = "https://fhir.nhs.uk/Id/nhs-number"


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Rate-limit counters live in the cache (Redis), which outlives each test's database.
    cache.clear()


def _care_team(client, token, n=5, address="203.0.113.9"):
    return client.get(
        "/fhir/R4/CareTeam",
        {"patient:identifier": f"{NHS}|{nhs_number_for(n)}"},
        HTTP_AUTHORIZATION=f"Bearer {token}",
        REMOTE_ADDR=address,
    )


def _retry_after(response, settings) -> int:
    seconds = int(response["Retry-After"])
    assert 1 <= seconds <= settings.FHIR_BAD_TOKEN_WINDOW_MINUTES * 60
    return seconds


def test_a_stale_token_sent_again_and_again_never_locks_out_valid_tokens(client, settings, role_user, care_setting):
    # An integration engine: every clinician's calls from one address, one of them with a stale token.
    settings.FHIR_BAD_TOKEN_LIMIT = 3
    stale = "cpis_StaleTok" + "x" * 30
    responses = [_care_team(client, stale) for _ in range(5)]
    assert [r.status_code for r in responses] == [401, 401, 401, 429, 429]
    assert all(_retry_after(r, settings) for r in responses[3:])
    # The other clinicians' valid tokens from that address go through.
    user = role_user(Role.CLINICIAN, care_setting)
    _, raw = api_token_issue(user=user, organisation=care_setting, name="EPR", valid_days=1)
    assert _care_team(client, raw).status_code == 200
    # Another stale token has its own count: its owner hears 401 (renew it), not "retry later".
    assert _care_team(client, "cpis_OtherOne" + "y" * 30).status_code == 401
    refused = AuditEvent.objects.filter(action=AuditAction.FHIR_REQUEST_REFUSED, detail__status=429)
    assert refused.count() == 2 and {e.outcome for e in refused} == {AuditOutcome.DENIED}


def test_many_invalid_tokens_from_one_address_are_limited_but_valid_ones_pass(
    client, settings, role_user, care_setting
):
    settings.FHIR_BAD_TOKEN_ADDRESS_LIMIT = 3
    responses = [_care_team(client, f"cpis_guess{n:04}" + "z" * 30) for n in range(5)]
    assert [r.status_code for r in responses] == [401, 401, 401, 429, 429]
    assert all(_retry_after(r, settings) for r in responses[3:])
    user = role_user(Role.CLINICIAN, care_setting)
    _, raw = api_token_issue(user=user, organisation=care_setting, name="EPR", valid_days=1)
    assert _care_team(client, raw).status_code == 200
    # Another address is unaffected.
    assert _care_team(client, "cpis_guess9999", address="198.51.100.1").status_code == 401


def test_a_second_token_shares_its_owners_limit(client, settings, role_user, care_setting):
    settings.FHIR_RATE_LIMIT_PER_MINUTE = 3
    user = role_user(Role.CLINICIAN, care_setting)
    _, first = api_token_issue(user=user, organisation=care_setting, name="EPR", valid_days=1)
    _, second = api_token_issue(user=user, organisation=care_setting, name="EPR 2", valid_days=1)
    statuses = [_care_team(client, t).status_code for t in (first, first, first, second)]
    assert statuses == [200, 200, 200, 429]


def test_rate_limits_let_requests_through_when_the_cache_is_down(client, settings, role_user, care_setting):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    with pytest.raises(Exception):  # noqa: B017 - the point: nothing answers on port 1
        cache.get("anything")
    user = role_user(Role.CLINICIAN, care_setting)
    _, raw = api_token_issue(user=user, organisation=care_setting, name="EPR", valid_days=1)
    assert _care_team(client, raw).status_code == 200
    assert _care_team(client, "cpis_guess").status_code == 401


def _check(client, n):
    data = {"nhs_number": nhs_number_for(n)}
    return client.post(reverse("attendances:check"), data)


def test_checks_over_the_hourly_limit_are_refused_and_the_admins_told(
    client_for, settings, role_user, care_setting, local_authority
):
    settings.CHECK_RATE_LIMIT_PER_HOUR = 3
    admin = role_user(Role.ORG_ADMIN, care_setting)
    clinician = role_user(Role.CLINICIAN, care_setting)
    PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(9))
    client = client_for(clinician)
    assert [_check(client, n).status_code for n in range(3)] == [200, 200, 200]
    refused = _check(client, 9)
    assert refused.status_code == 429 and "the most CP-IS allows" in refused.content.decode()
    assert nhs_number_for(9) not in AuditEvent.objects.filter(action=AuditAction.CHILD_CHECKED).values_list(
        "nhs_number", flat=True
    )
    assert _check(client, 10).status_code == 429
    limited = AuditEvent.objects.filter(action=AuditAction.CHECK_RATE_LIMITED, user=clinician)
    assert limited.count() == 2 and {e.outcome for e in limited} == {AuditOutcome.DENIED}
    # Told once, with nothing about any child or the user's name.
    (told,) = [m for m in mail.outbox if "limit of checks" in m.subject]
    assert told.to == [admin.email]
    assert clinician.full_name not in told.body and nhs_number_for(9) not in told.body


def test_api_checks_count_towards_the_same_limit(client, client_for, settings, role_user, care_setting):
    settings.CHECK_RATE_LIMIT_PER_HOUR = 2
    clinician = role_user(Role.CLINICIAN, care_setting)
    _, raw = api_token_issue(user=clinician, organisation=care_setting, name="EPR", valid_days=1)
    assert _check(client_for(clinician), 1).status_code == 200
    assert _care_team(client, raw, n=2).status_code == 200
    assert _care_team(client, raw, n=3).status_code == 403
    assert _check(client_for(clinician), 4).status_code == 429


def test_a_user_over_the_limit_is_refused_again_without_the_audit_log_being_counted_again(
    client_for, settings, role_user, care_setting
):
    """A user hammering at the limit made every refusal slower than the one before: each was
    counted over all their events of the hour, refusals included (the soak's slowdown)."""
    settings.CHECK_RATE_LIMIT_PER_HOUR = 3
    role_user(Role.ORG_ADMIN, care_setting)
    clinician = role_user(Role.CLINICIAN, care_setting)
    client = client_for(clinician)
    assert [_check(client, n).status_code for n in range(3)] == [200, 200, 200]
    assert _check(client, 3).status_code == 429
    for n in range(4, 7):
        with CaptureQueriesContext(connection) as queries:
            assert _check(client, n).status_code == 429
        reads = [q["sql"] for q in queries if "audit_auditevent" in q["sql"] and not q["sql"].startswith("INSERT")]
        assert reads == [], reads
    # Each refusal is still audited, and the admins were told once.
    assert AuditEvent.objects.filter(action=AuditAction.CHECK_RATE_LIMITED, user=clinician).count() == 4
    assert len([m for m in mail.outbox if "limit of checks" in m.subject]) == 1


def test_a_user_may_check_again_once_their_oldest_check_leaves_the_hour(settings, role_user, care_setting):
    settings.CHECK_RATE_LIMIT_PER_HOUR = 2
    clinician = role_user(Role.CLINICIAN, care_setting)

    def check(n: int):
        return child_check(
            nhs_number=nhs_number_for(n),
            date_of_birth=None,
            arrived_at=timezone.now(),
            user=clinician,
            organisation=care_setting,
            role=Role.CLINICIAN,
        )

    check(1)
    with time_machine.travel(timezone.now() + timedelta(minutes=30)):
        check(2)
        with pytest.raises(CheckRateLimited):
            check(3)
    with time_machine.travel(timezone.now() + timedelta(minutes=59)), pytest.raises(CheckRateLimited):
        check(4)  # the first check is still within the hour
    with time_machine.travel(timezone.now() + timedelta(minutes=61)):
        check(5)  # it has left the hour: one slot free
        with pytest.raises(CheckRateLimited):
            check(6)


def test_the_limit_holds_without_redis(client_for, settings, role_user, care_setting):
    from cpis import resilience

    settings.CHECK_RATE_LIMIT_PER_HOUR = 2
    clinician = role_user(Role.CLINICIAN, care_setting)
    client = client_for(clinician)
    assert [_check(client, n).status_code for n in range(2)] == [200, 200]
    resilience.cache_breaker.failed(ConnectionError("test: Redis down"))
    try:
        assert [_check(client, n).status_code for n in range(2, 4)] == [429, 429]
    finally:
        resilience.reset()
