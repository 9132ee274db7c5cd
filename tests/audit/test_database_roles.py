"""The application's database role may read and append the audit log, and nothing more.

Connects as a real, separate PostgreSQL role set up exactly as `migrate` sets up the
deployment's DATABASE_APP_ROLE (audit/database_roles.py), and tries what an attacker holding
the application's connection would try.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from accounts.models import Organisation
from audit.database_roles import app_role_grant, backup_role_grant
from audit.models import AuditAction, AuditEvent
from audit.services import audit_record
from tests.factories import OrganisationFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _connect_as(role: str) -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, dbname=db["NAME"], user=role, autocommit=True
    )


@contextmanager
def _login_role(prefix: str) -> Iterator[str]:
    """A login role of our own (roles are cluster-wide: a unique name per test), dropped after."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
        cursor.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(connection.settings_dict["NAME"]), sql.Identifier(name)
            )
        )
    yield name
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        cursor.execute(
            sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(
                sql.Identifier(connection.settings_dict["NAME"]), sql.Identifier(name)
            )
        )
        cursor.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.fixture
def role():
    with _login_role("cpis_app_test") as name:
        yield name


@pytest.fixture
def app_role(role):
    app_role_grant(role=role)
    return role


@pytest.fixture
def backup_role():
    """Granted as `migrate` grants DATABASE_BACKUP_ROLE."""
    with _login_role("cpis_backup_test") as name:
        backup_role_grant(role=name)
        yield name


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET action = 'login'",
        "DELETE FROM audit_auditevent",
        "TRUNCATE audit_auditevent",
        "ALTER TABLE audit_auditevent DISABLE TRIGGER ALL",
        "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only",
        "SET session_replication_role = replica",
        "DROP TABLE audit_auditevent",
        "CREATE TABLE cpis_smuggled (id int)",
    ],
)
def test_app_role_cannot_rewrite_or_unprotect_the_audit_log(app_role, statement):
    audit_record(action=AuditAction.LOGIN)
    # The privilege check's words, not the append-only trigger's: the role itself is refused.
    refused = pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied|must be owner")
    with _connect_as(app_role) as conn, refused:
        conn.execute(statement)
    assert AuditEvent.objects.count() == 1
    assert AuditEvent.objects.get().action == AuditAction.LOGIN


def test_app_role_reads_and_appends_the_audit_log_and_writes_other_tables(app_role):
    organisation = OrganisationFactory(name="Before")
    audit_record(action=AuditAction.LOGIN)
    with _connect_as(app_role) as conn:
        assert conn.execute("SELECT count(*) FROM audit_auditevent").fetchone() == (1,)
        conn.execute(
            "INSERT INTO audit_auditevent (occurred_at, roles, action, nhs_number, outcome, trace_id, detail)"
            " SELECT now(), roles, action, nhs_number, outcome, trace_id, detail FROM audit_auditevent"
        )
        conn.execute("UPDATE accounts_organisation SET name = 'After' WHERE id = %s", [organisation.pk])
    assert AuditEvent.objects.count() == 2
    assert Organisation.objects.get(pk=organisation.pk).name == "After"


def test_truncate_trigger_stops_a_role_that_holds_the_privilege(role):
    """The second line: even a role granted TRUNCATE (an owner, say) cannot empty the log."""
    audit_record(action=AuditAction.LOGIN)
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("GRANT TRUNCATE ON audit_auditevent TO {}").format(sql.Identifier(role)))
    refused = pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only: TRUNCATE refused")
    with _connect_as(role) as conn, refused:
        conn.execute("TRUNCATE audit_auditevent")
    assert AuditEvent.objects.count() == 1


def test_grants_are_applied_by_migrate(settings, role):
    """`migrate` run with DATABASE_APP_ROLE grants the role without a separate step."""
    from django.core.management import call_command

    settings.DATABASE_APP_ROLE = role
    call_command("migrate", verbosity=0)
    with _connect_as(role) as conn:
        assert conn.execute("SELECT count(*) FROM accounts_organisation").fetchone() is not None
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM audit_auditevent")


# A month no other test makes, far from today's partitions.
LATER_MONTH = "2098-01-01"
LATER_PARTITION = "audit_auditevent_2098_01"


@pytest.fixture
def later_partition():
    yield LATER_PARTITION
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(LATER_PARTITION)))


def test_backup_role_reads_every_audit_partition_including_one_the_partition_job_makes_later(
    app_role, backup_role, later_partition
):
    """pg_dump reads each partition directly. The partition job runs as the application role
    (beat's worker) and makes next months' partitions through the owner's function: the backup
    role reads those too, and the application role still reads none of them directly."""
    audit_record(action=AuditAction.LOGIN)
    with _connect_as(app_role) as conn:
        assert conn.execute("SELECT audit_partition_create(%s)", [LATER_MONTH]).fetchone() == (LATER_PARTITION,)
    partitions = [LATER_PARTITION, "audit_auditevent_default"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'audit_auditevent'::regclass"
        )
        partitions += [name for (name,) in cursor.fetchall() if name not in partitions]
    with _connect_as(backup_role) as conn:
        for partition in partitions:
            conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(partition)))
        assert conn.execute("SELECT count(*) FROM audit_auditevent").fetchone() == (1,)
        assert conn.execute("SELECT last_value FROM audit_auditevent_id_seq").fetchone() is not None
    with _connect_as(app_role) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(LATER_PARTITION)))


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO audit_auditevent (occurred_at, roles, action, nhs_number, outcome, trace_id, detail)"
        " SELECT now(), roles, action, nhs_number, outcome, trace_id, detail FROM audit_auditevent",
        "UPDATE accounts_organisation SET name = 'x'",
        "DELETE FROM accounts_organisation",
        "SELECT nextval('audit_auditevent_id_seq')",
        "CREATE TABLE cpis_smuggled (id int)",
    ],
)
def test_backup_role_writes_nothing(backup_role, statement):
    OrganisationFactory(name="Kept")
    audit_record(action=AuditAction.LOGIN)
    with _connect_as(backup_role) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)
    assert Organisation.objects.get().name == "Kept"
    assert AuditEvent.objects.count() == 1


def test_backup_role_is_granted_by_migrate(settings, role):
    settings.DATABASE_BACKUP_ROLE = role
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    with _connect_as(role) as conn:
        assert conn.execute("SELECT count(*) FROM audit_auditevent_default").fetchone() == (0,)
