"""The FHIR API's checks while Redis (cache and broker) is stopped or frozen, with a real Celery
worker on a Redis server of our own: every check answers promptly, is audited and records its
visit; the notifications are delivered once Redis is back."""

import os
import signal
import time

import pytest
from django.conf import settings
from django.test import Client, override_settings

from attendances.models import Visit
from audit.models import AuditAction, AuditEvent
from fhir.services import api_token_issue
from tests.factories import PlanFactory
from tests.notifications.checks import unique_nhs_number
from tests.notifications.worker import Worker, all_delivered, broker, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

NHS = "https://fhir.nhs.uk/Id/nhs-number"
# Well under the 5 s a frozen Redis used to cost each check (and far under gunicorn's timeout).
PROMPT = 3.0


def _cache_settings(url: str) -> dict:
    default = settings.CACHES["default"]
    return {"default": {**default, "LOCATION": url}}


def test_api_checks_succeed_and_are_audited_while_redis_is_stopped_or_frozen(
    tmp_path, redis_server, role_user, care_setting, local_authority
):
    from cpis import resilience

    resilience.reset()
    cache_url = f"redis://127.0.0.1:{redis_server.port}/9"
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    worker = Worker(
        name="w", broker_url=redis_server.url, workdir=tmp_path, mail_dir=mail_dir, env={"REDIS_URL": cache_url}
    )
    user = role_user("clinician")
    _, raw = api_token_issue(user=user, organisation=care_setting, name="EPR", valid_days=30)
    client = Client()
    timings: dict[str, list[float]] = {}

    def check(phase: str) -> None:
        plan = PlanFactory(organisation=local_authority, nhs_number=unique_nhs_number())
        trace = f"{phase}-{len(timings.get(phase, []))}"
        started = time.monotonic()
        response = client.get(
            "/fhir/R4/CareTeam",
            {"patient:identifier": f"{NHS}|{plan.nhs_number}"},
            HTTP_AUTHORIZATION=f"Bearer {raw}",
            HTTP_TRACEID=trace,
        )
        timings.setdefault(phase, []).append(time.monotonic() - started)
        assert response.status_code == 200, (phase, response.content)
        assert AuditEvent.objects.filter(action=AuditAction.CHILD_CHECKED, trace_id=trace).count() == 1
        assert Visit.objects.filter(nhs_number=plan.nhs_number).count() == 1

    with override_settings(CACHES=_cache_settings(cache_url)), broker(redis_server.url):
        worker.start()
        try:
            for _ in range(2):
                check("up")

            redis_server.stop()
            for _ in range(4):
                check("stopped")

            redis_server.start()
            resilience.reset()  # as after the breaker's pause
            check("restarted")
            os.kill(redis_server.process.pid, signal.SIGSTOP)
            for _ in range(4):
                check("frozen")
            os.kill(redis_server.process.pid, signal.SIGCONT)

            wait_until(all_delivered, timeout=90, what="the sweeper to deliver after the outage")
        finally:
            worker.stop()
    print({phase: [round(t, 2) for t in ts] for phase, ts in timings.items()})
    slow = {phase: max(ts) for phase, ts in timings.items() if max(ts) > PROMPT}
    assert not slow, f"checks held up by Redis: {slow}"
    assert Visit.objects.count() == 11
