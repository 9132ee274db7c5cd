"""Losing a host loses nothing. Two complete "hosts" on this machine share one PostgreSQL and
one Redis: each a gunicorn, a Celery worker consuming every queue and a beat. A load of FHIR
checks goes to both; mid-load every process of host A is SIGKILLed. Then:

- every check succeeds, answered by host B or retried there by the client with the same TraceID
  (which records no second visit);
- every notification is delivered exactly once per channel: the rows A's worker had claimed are
  swept up by B's beat, which took the lead (cpis/beat.py);
- no schedule entry was published twice in a slot;
- the service-health page shows A's worker as gone within two of its heartbeats, B's running.
"""

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from accounts.models import Role
from attendances.models import Visit
from fhir.services import api_token_issue
from tests.hosts.beat_settings import SHORT_ENTRIES
from tests.hosts.processes import Beat
from tests.notifications.checks import child_on_plan
from tests.notifications.worker import (
    FAST_DELIVERY_ENV,
    ROOT,
    RedisServer,
    Worker,
    all_delivered,
    assert_reconciled,
    free_port,
    subprocess_database_url,
    wait_until,
)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PRESENCE_SECONDS = 2
CHECKS = 48


class Gunicorn:
    def __init__(self, *, name: str, workdir, env: dict[str, str]):
        self.name = name
        self.port = free_port()
        self.log_path = workdir / f"{name}-gunicorn.log"
        self.env = {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}", "GUNICORN_WORKERS": "2"}
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "a")  # noqa: SIM115 - the child keeps it open
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:cpis.gunicorn", "cpis.wsgi"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        wait_until(self._answers, timeout=60, what=f"gunicorn {self.name}")

    def _answers(self) -> bool:
        try:
            return request(self.port, "/livez", {}) == 200
        except OSError:
            return False

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def request(port: int, path: str, headers: dict[str, str]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("GET", path, headers={"Host": f"127.0.0.1:{port}", **headers})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_a_host_killed_mid_load_loses_no_check_no_notification_and_repeats_no_job(
    tmp_path, local_authority, care_setting, role_user, client_for, settings
):
    settings.WORKER_PRESENCE_SECONDS = PRESENCE_SECONDS  # the page's, as the workers'
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    env = {
        "CELERY_BROKER_URL": redis_server.url,
        "REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/9",
        "WORKER_PRESENCE_SECONDS": str(PRESENCE_SECONDS),
        "FHIR_RATE_LIMIT_PER_MINUTE": "100000",
        "CHECK_RATE_LIMIT_PER_HOUR": "0",
        **FAST_DELIVERY_ENV,
    }
    web_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.notifications.worker_settings",
        "DATABASE_URL": subprocess_database_url(),
        "EMAIL_FILE_PATH": str(mail_dir),
        **env,
    }
    hosts = {}
    for name in ("a", "b"):
        hosts[name] = {
            "web": Gunicorn(name=name, workdir=tmp_path, env=web_env),
            "worker": Worker(
                name=f"host-{name}",
                broker_url=redis_server.url,
                workdir=tmp_path,
                mail_dir=mail_dir,
                beat=False,
                concurrency=2,
                env=env,
            ),  # fmt: skip
            "beat": Beat(name=f"beat-{name}", workdir=tmp_path, env=env),
        }
    clinician = role_user(Role.CLINICIAN)
    token = api_token_issue(user=clinician, organisation=care_setting, name="Load", valid_days=1)[1]
    children = [child_on_plan(local_authority).nhs_number for _ in range(CHECKS)]
    results: dict[int, int] = {}

    def check(index: int) -> None:
        query = urlencode({"patient:identifier": f"https://fhir.nhs.uk/Id/nhs-number|{children[index]}"})
        headers = {"Authorization": f"Bearer {token}", "IsUnscheduledAccessEvent": "true", "TraceID": str(uuid.uuid4())}
        order = ["a", "b"] if index % 2 == 0 else ["b", "a"]
        for attempt in range(8):
            # The client's retry: the same request, TraceID and all, at the other host.
            host = hosts[order[attempt % 2]]["web"]
            try:
                status = request(host.port, f"/fhir/R4/CareTeam?{query}", headers)
            except OSError:
                status = 0
            if status == 200:
                results[index] = status
                return
            time.sleep(0.3)
        results[index] = status

    try:
        for parts in hosts.values():
            parts["web"].start()
            parts["worker"].start()
            parts["beat"].start()
        wait_until(lambda: any(h["beat"].leading() for h in hosts.values()), timeout=30, what="a beat to lead")
        # Host A leads, so its death also takes the lead away.
        if not hosts["a"]["beat"].leading():
            hosts["a"], hosts["b"] = hosts["b"], hosts["a"]

        threads = []
        for index in range(CHECKS):
            if index == CHECKS // 2:
                for part in ("web", "worker", "beat"):
                    hosts["a"][part].kill()
                killed_at = timezone.now()
            thread = threading.Thread(target=check, args=(index,))
            thread.start()
            threads.append(thread)
            time.sleep(0.1)
        for thread in threads:
            thread.join(timeout=120)

        admin = client_for(role_user(Role.NATIONAL_ADMIN))

        def a_gone_b_running() -> bool:
            page = admin.get("/service/health/").content.decode()
            a_name, b_name = hosts["a"]["worker"].name, hosts["b"]["worker"].name
            return (f'data-worker="{a_name}-1@' in page and f'data-worker="{b_name}-1@' in page
                    and page.split(f'data-worker="{a_name}-1@')[1].split(">")[0].endswith('data-gone="true"')
                    and page.split(f'data-worker="{b_name}-1@')[1].split(">")[0].endswith('data-gone="false"'))  # fmt: skip

        wait_until(a_gone_b_running, timeout=2 * PRESENCE_SECONDS + 10, what="host A's worker shown as gone")
        assert timezone.now() - killed_at <= timedelta(seconds=2 * PRESENCE_SECONDS + 10)
        wait_until(hosts["b"]["beat"].leading, timeout=30, what="host B's beat to lead")
        wait_until(all_delivered, timeout=180, what="every delivery, host A's claimed ones too")
        time.sleep(3)
    finally:
        for parts in hosts.values():
            for part in parts.values():
                part.stop()
        redis_server.stop()

    assert results == dict.fromkeys(range(CHECKS), 200)
    visits = list(Visit.objects.all())
    assert sorted(v.nhs_number for v in visits) == sorted(children)  # one visit per check, retried or not
    assert_reconciled(visits=visits, mail_dir=mail_dir)

    sent: dict[str, list] = {}
    for parts in hosts.values():
        for at, name in parts["beat"].sent():
            sent.setdefault(name, []).append(at)
    for name in SHORT_ENTRIES:
        times = sorted(sent[name])
        gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
        assert min(gaps) >= timedelta(seconds=SHORT_ENTRIES[name] - 0.5), f"{name} published twice in a slot"
