"""The restore drill: back up a database holding plans, visits, notifications, uploads and
audit events, exactly as the deployment does (`make backup` in docker-compose's web
environment: the service connected as the application role, the dump as the read-only backup
role, both least-privilege roles granted by `migrate` as compose's migrate service grants
them); restore it into a new database; run the service on it; find everything intact and the
audit table still append-only."""

import json
import os
import re
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from psycopg import sql

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


ROOT = Path(settings.BASE_DIR)
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _url(name: str, role: str | None = None) -> str:
    db = connection.settings_dict
    return f"postgres://{role or db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


@pytest.fixture
def deployment_roles(settings):
    """The application and backup roles as init-roles.sh makes them (roles are cluster-wide:
    unique names), granted by `migrate` with compose's migrate settings; dropped after."""
    suffix = uuid.uuid4().hex[:8]
    roles = {"cpis_app": f"cpis_app_drill_{suffix}", "cpis_backup": f"cpis_backup_drill_{suffix}"}
    database = sql.Identifier(connection.settings_dict["NAME"])
    with connection.cursor() as cursor:
        for role in roles.values():
            cursor.execute(sql.SQL("CREATE ROLE {} LOGIN NOINHERIT").format(sql.Identifier(role)))
            cursor.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, sql.Identifier(role)))
        cursor.execute(
            sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(sql.Identifier(roles["cpis_backup"]))
        )
    migrate = COMPOSE["services"]["migrate"]["environment"]
    settings.DATABASE_APP_ROLE = roles[migrate["DATABASE_APP_ROLE"]]
    settings.DATABASE_BACKUP_ROLE = roles[migrate["DATABASE_BACKUP_ROLE"]]
    call_command("migrate", verbosity=0)
    yield roles
    with connection.cursor() as cursor:
        for role in roles.values():
            cursor.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            cursor.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(database, sql.Identifier(role)))
            cursor.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _compose_web_environment(roles: dict[str, str]) -> dict[str, str]:
    """docker-compose.yml's web environment, pointed at this test's database and roles (a
    compose URL is postgres://<role>:${PASSWORD}@db:5432/cpis; trust auth ignores passwords)."""
    env = {}
    for name, value in COMPOSE["services"]["web"]["environment"].items():
        found = re.fullmatch(r"postgres://(\w+):\$\{[^}]+\}@db:5432/cpis", value)
        if found:
            value = _url(connection.settings_dict["NAME"], roles[found[1]])
        elif value.startswith("redis://"):
            value = settings.REDIS_URL
        env[name] = value
    return env


def make_backup(path: Path, roles: dict[str, str]) -> subprocess.CompletedProcess:
    """`make backup BACKUP=path` in web's compose environment with the production settings
    module (the Dockerfile's). The lock-file targets count as done: this machine's virtualenv
    is the one the suite runs in, and a backup must never reinstall it."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cpis.settings.base",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "localhost",
        **_compose_web_environment(roles),
    }
    return subprocess.run(
        ["make", "-o", ".venv/.installed", "-o", "node_modules/.installed", "backup", f"BACKUP={path}",
         f"PY={sys.executable}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.fixture
def empty_database(deployment_roles):
    # After the roles (and so dropped before them): the restored grants name them.
    name = f"{connection.settings_dict['NAME']}_restored"
    admin = psycopg.connect(_url("postgres"), autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    yield name
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def test_a_backup_restores_into_a_new_database_that_serves_checks_with_the_audit_log_protected(
    tmp_path, deployment_roles, empty_database, role_user, care_setting, local_authority
):
    plans = [child_on_plan(local_authority) for _ in range(3)]
    for plan in plans:
        record_check(plans=[plan], care_setting=care_setting)
    import_bytes(local_authority, csv_bytes([row(n) for n in range(1, 6)]))
    clinician = role_user(Role.CLINICIAN)
    _, raw_token = api_token_issue(user=clinician, organisation=care_setting, name="EPR", valid_days=30)
    # Events land in their month's partition and in the default one (a month beat missed):
    # the backup role must read both, which the application role may not.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (occurred_at, roles, action, nhs_number, outcome, trace_id, detail)"
            " VALUES ('2099-06-01', '', 'login', '', 'success', 'drill-default-partition', '{}')"
        )
    before = {table: model.objects.count() for table, model in TABLES.items()}
    assert all(before.values()), before

    backup = tmp_path / "cpis.dump"
    made = make_backup(backup, deployment_roles)
    assert made.returncode == 0, made.stdout + made.stderr
    assert backup.stat().st_size > 0
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
        assert restored.execute(
            "SELECT count(*) FROM audit_auditevent_default WHERE trace_id = 'drill-default-partition'"
        ).fetchone() == (1,)
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
