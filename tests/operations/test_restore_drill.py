"""The restore drill: back up a database holding plans, visits, notifications, uploads and
audit events; restore it into a new database; run the service on it; find everything intact
and the audit table still append-only."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from accounts.models import Role
from attendances.models import Visit
from audit.models import AuditEvent
from fhir.services import api_token_issue
from notifications.models import Delivery, Notification
from plans.models import Plan, PlanUpload
from tests.notifications.checks import child_on_plan, record_check
from tests.notifications.worker import free_port, wait_until
from tests.plans.helpers import csv_bytes, import_bytes, row

pytestmark = pytest.mark.django_db(transaction=True)

TABLES = {
    "plans_plan": Plan,
    "plans_planupload": PlanUpload,
    "attendances_visit": Visit,
    "notifications_notification": Notification,
    "notifications_delivery": Delivery,
    "audit_auditevent": AuditEvent,
}


def _url(name: str) -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


@pytest.fixture
def empty_database():
    name = f"{connection.settings_dict['NAME']}_restored"
    admin = psycopg.connect(_url("postgres"), autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    yield name
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def test_a_backup_restores_into_a_new_database_that_serves_checks_with_the_audit_log_protected(
    tmp_path, empty_database, role_user, care_setting, local_authority
):
    plans = [child_on_plan(local_authority) for _ in range(3)]
    for plan in plans:
        record_check(plans=[plan], care_setting=care_setting)
    import_bytes(local_authority, csv_bytes([row(n) for n in range(1, 6)]))
    clinician = role_user(Role.CLINICIAN)
    _, raw_token = api_token_issue(user=clinician, organisation=care_setting, name="EPR", valid_days=30)
    before = {table: model.objects.count() for table, model in TABLES.items()}
    assert all(before.values()), before

    backup = tmp_path / "cpis.dump"
    call_command("backup_database", output=str(backup))
    restored_url = _url(empty_database)
    call_command("restore_database", str(backup), database_url=restored_url)

    with psycopg.connect(restored_url, autocommit=True) as restored:
        after = {table: restored.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES}  # noqa: S608
        assert after == before
        newest = AuditEvent.objects.order_by("-id").first()
        assert restored.execute(
            "SELECT action, trace_id FROM audit_auditevent WHERE id = %s", [newest.pk]
        ).fetchone() == (
            newest.action,
            newest.trace_id,
        )
        # The audit log is still append-only: the trigger came back with the schema.
        for statement in ("UPDATE audit_auditevent SET action = 'x'", "DELETE FROM audit_auditevent"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                restored.execute(statement)
    env = {**os.environ, "DATABASE_URL": restored_url, "DJANGO_SETTINGS_MODULE": "cpis.settings.test"}
    migrated = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--check"], cwd=settings.BASE_DIR, env=env, capture_output=True
    )
    assert migrated.returncode == 0, migrated.stderr

    # The service runs on it: a check through the FHIR API finds the child's plan and is
    # recorded in the restored database.
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:cpis.gunicorn", "cpis.wsgi"],
        cwd=settings.BASE_DIR,
        env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "web.log", "w"),  # noqa: SIM115
    )
    try:

        def serving():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=5):  # noqa: S310 - our own server
                    return True
            except OSError:
                return False

        # Readiness is probed on a page that writes nothing, so a probe timing out on a busy
        # machine cannot leave a second audited check behind; the check itself is sent once.
        wait_until(serving, timeout=60, what="the service on the restored database")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/fhir/R4/CareTeam?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{plans[0].nhs_number}",
            headers={"Authorization": f"Bearer {raw_token}", "TraceID": "restore-drill-1"},
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - our own server
                body = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise AssertionError(f"HTTP {error.code}: {error.read()[:500]!r}") from None
    finally:
        web.terminate()
        web.wait(timeout=10)
    assert body["total"] == 1
    with psycopg.connect(restored_url) as restored:
        visits = restored.execute("SELECT count(*) FROM attendances_visit WHERE nhs_number = %s", [plans[0].nhs_number])
        assert visits.fetchone()[0] == 2
        audited = restored.execute("SELECT count(*) FROM audit_auditevent WHERE trace_id = 'restore-drill-1'")
        assert audited.fetchone()[0] == 1
    # The original is untouched by the drill.
    assert Visit.objects.filter(nhs_number=plans[0].nhs_number).count() == 1
