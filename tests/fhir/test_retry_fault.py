"""A FHIR check whose client connection dies still commits; the client's retry with the same
TraceID records no second visit. Over gunicorn, with a real worker on real Redis."""

import os
import socket
import subprocess
import sys
import urllib.request

import pytest
from django.conf import settings
from django.db import connection

from attendances.models import Visit
from audit.models import AuditAction, AuditEvent
from fhir.services import api_token_issue
from notifications.models import Notification
from tests.factories import PlanFactory
from tests.notifications.checks import unique_nhs_number
from tests.notifications.worker import RedisServer, Worker, all_delivered, free_port, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

NHS = "https://fhir.nhs.uk/Id/nhs-number"


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def test_a_check_whose_connection_died_is_retried_with_its_trace_id_and_recorded_once(
    tmp_path, role_user, care_setting, local_authority
):
    plan = PlanFactory(organisation=local_authority, nhs_number=unique_nhs_number())
    user = role_user("clinician")
    _, raw = api_token_issue(user=user, organisation=care_setting, name="EPR", valid_days=30)
    server = RedisServer(tmp_path)
    server.start()
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    env = {
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": server.url,
        "REDIS_URL": f"redis://127.0.0.1:{server.port}/9",
        "EMAIL_FILE_PATH": str(mail_dir),
    }
    worker = Worker(name="w", broker_url=server.url, workdir=tmp_path, mail_dir=mail_dir, env=env)
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:cpis.gunicorn", "cpis.wsgi"],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            **env,
            "DJANGO_SETTINGS_MODULE": "tests.notifications.worker_settings",
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": "1",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    path = f"/fhir/R4/CareTeam?patient:identifier={NHS}|{plan.nhs_number}"
    headers = {"Authorization": f"Bearer {raw}", "TraceID": "epr-7f3a-0001", "Host": "localhost"}
    try:
        worker.start()
        wait_until(lambda: _listening(port), timeout=30, what="gunicorn")
        # The client sends its check and its connection dies before any answer.
        with socket.create_connection(("127.0.0.1", port)) as raw_socket:
            lines = [f"GET {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
            raw_socket.sendall("\r\n".join(lines).encode())
        wait_until(
            lambda: AuditEvent.objects.filter(action=AuditAction.CHILD_CHECKED, trace_id="epr-7f3a-0001").exists(),
            timeout=30,
            what="the abandoned check to commit",
        )
        assert Visit.objects.filter(nhs_number=plan.nhs_number).count() == 1

        # Not knowing, the client retries with the same TraceID.
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own server
            assert response.status == 200
            assert response.headers["TraceID"] == "epr-7f3a-0001"
        wait_until(all_delivered, timeout=60, what="the notification's deliveries")
    finally:
        web.terminate()
        web.wait(timeout=10)
        worker.stop()
        server.stop()
    assert Visit.objects.filter(nhs_number=plan.nhs_number).count() == 1
    notification = Notification.objects.get(nhs_number=plan.nhs_number)
    assert notification.attendance_count == 1 and notification.delivered_to_inbox_at is not None
    checks = AuditEvent.objects.filter(action=AuditAction.CHILD_CHECKED, trace_id="epr-7f3a-0001").order_by("id")
    assert [e.detail["repeated_form"] for e in checks] == [False, True]


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False
