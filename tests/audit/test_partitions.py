"""The audit table's monthly partitions: made ahead by a tested rule, every one append-only.

PostgreSQL only (the project's SQLite demo keeps one table). A partition made in a test is DDL
inside the test's transaction, so it is rolled back with everything else; tests that need a
second connection (the roles) use partitions `migrate` made, or drop their own afterwards.
"""

import datetime as dt

import psycopg
import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from psycopg import sql

from audit import partitions
from audit.models import AuditAction, AuditEvent
from audit.services import audit_record
from tests.audit.test_database_roles import _connect_as, app_role, role  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def _table_of(event: AuditEvent) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM audit_auditevent WHERE id = %s", [event.pk])
        return cursor.fetchone()[0]


def _refused(statement: str, params=None):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)


def test_the_table_is_partitioned_by_month_with_a_default_and_two_months_ahead():
    this_month = partitions.month_start(dt.datetime.now(tz=dt.UTC))
    expected = {partitions.partition_name(partitions.months_after(this_month, n)) for n in range(3)}
    assert expected <= set(partitions.partitions())
    with connection.cursor() as cursor:
        cursor.execute("SELECT partstrat FROM pg_partitioned_table WHERE partrelid = 'audit_auditevent'::regclass")
        assert cursor.fetchone() == ("r",)
        cursor.execute("SELECT to_regclass('audit_auditevent_default') IS NOT NULL")
        assert cursor.fetchone() == (True,)


def test_an_event_goes_to_its_months_partition_and_is_append_only_there():
    event = audit_record(action=AuditAction.LOGIN, nhs_number="9434765919")
    partition = partitions.partition_name(partitions.month_start(event.occurred_at))
    assert _table_of(event) == partition
    # Straight at the partition, not through the parent: the cloned row trigger refuses.
    _refused(sql.SQL("UPDATE {} SET outcome = 'failure' WHERE id = %s").format(sql.Identifier(partition)), [event.pk])
    _refused(sql.SQL("DELETE FROM {} WHERE id = %s").format(sql.Identifier(partition)), [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).outcome == "success"


def test_the_rule_makes_next_months_partitions_ahead_and_is_idempotent():
    with time_machine.travel(dt.datetime(2031, 11, 20, 12, tzinfo=dt.UTC), tick=False):
        made = partitions.partitions_ensure()
        assert made == ["audit_auditevent_2031_11", "audit_auditevent_2031_12", "audit_auditevent_2032_01"]
        assert partitions.partitions_ensure() == []
        event = audit_record(action=AuditAction.LOGIN)
    assert _table_of(event) == "audit_auditevent_2031_11"
    # The boundary is midnight UTC on the first: the last second of December is December's.
    late = AuditEvent.objects.create(
        action=AuditAction.LOGIN, occurred_at=dt.datetime(2031, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    )
    assert _table_of(late) == "audit_auditevent_2031_12"


def test_a_partition_made_later_is_append_only_too():
    with time_machine.travel(dt.datetime(2033, 2, 3, tzinfo=dt.UTC), tick=False):
        partitions.partitions_ensure(months_ahead=0)
        event = audit_record(action=AuditAction.LOGOUT)
    assert _table_of(event) == "audit_auditevent_2033_02"
    _refused("UPDATE audit_auditevent_2033_02 SET action = 'login'")
    _refused("DELETE FROM audit_auditevent_2033_02")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_auditevent_2033_02'::regclass"
            " AND NOT tgisinternal ORDER BY tgname"
        )
        assert [name for (name,) in cursor.fetchall()] == ["audit_event_append_only", "audit_event_no_truncate"]


def test_an_event_for_a_month_with_no_partition_is_kept_in_the_default_partition():
    """Should beat stop for months: the event is stored, not refused, and stays append-only."""
    with time_machine.travel(dt.datetime(2040, 6, 15, tzinfo=dt.UTC), tick=False):
        event = audit_record(action=AuditAction.LOGIN)
        assert _table_of(event) == "audit_auditevent_default"
        # June's events are in the default partition, so June gets none; later months do.
        assert partitions.partitions_ensure() == ["audit_auditevent_2040_07", "audit_auditevent_2040_08"]
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    _refused("UPDATE audit_auditevent_default SET action = 'logout'")
    _refused("DELETE FROM audit_auditevent_default")


def test_a_month_is_refused_unless_it_is_the_first_of_a_month():
    with pytest.raises(DatabaseError, match="first of a month"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT audit_partition_create(%s)", [dt.date(2031, 5, 2)])


def test_the_command_makes_the_partitions_and_says_so(capsys):
    with time_machine.travel(dt.datetime(2034, 3, 1, tzinfo=dt.UTC), tick=False):
        call_command("audit_partitions", "--months-ahead", "1")
        call_command("audit_partitions")
    out = capsys.readouterr().out
    assert "Created: audit_auditevent_2034_03, audit_auditevent_2034_04" in out
    assert "Created: audit_auditevent_2034_05" in out


def test_the_beat_schedule_runs_the_rule_daily():
    entry = settings.CELERY_BEAT_SCHEDULE["audit-partitions-ensure"]
    assert entry["task"] == "audit.tasks.audit_partitions_ensure"
    from audit.tasks import audit_partitions_ensure

    with time_machine.travel(dt.datetime(2035, 7, 9, tzinfo=dt.UTC), tick=False):
        assert audit_partitions_ensure.apply().get() == [
            "audit_auditevent_2035_07",
            "audit_auditevent_2035_08",
            "audit_auditevent_2035_09",
        ]


def test_the_owner_drops_months_past_retention_and_keeps_the_rest():
    with time_machine.travel(dt.datetime(2036, 1, 10, tzinfo=dt.UTC), tick=False):
        partitions.partitions_ensure()
    with time_machine.travel(dt.datetime(2036, 3, 10, tzinfo=dt.UTC), tick=False):
        partitions.partitions_ensure()
        # Kept: the month one month back and everything after. (The DDL is rolled back after.)
        expired = partitions.partitions_expired(retention_months=1)
        assert "audit_auditevent_2036_01" in expired and "audit_auditevent_2036_02" not in expired
        assert partitions.partitions_drop_expired(retention_months=1) == expired
    assert partitions.partitions() == [f"audit_auditevent_2036_{month:02d}" for month in range(2, 6)]


@pytest.mark.django_db(transaction=True)
class TestAppRoleOnPartitions:
    """The application role reaches partitions only through the parent, and cannot drop one."""

    def partition(self) -> str:
        return partitions.partition_name(partitions.month_start(dt.datetime.now(tz=dt.UTC)))

    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE {p} SET action = 'login'",
            "DELETE FROM {p}",
            "TRUNCATE {p}",
            "SELECT * FROM {p}",
            "ALTER TABLE {p} DISABLE TRIGGER ALL",
            "ALTER TABLE audit_auditevent DETACH PARTITION {p}",
            "DROP TABLE {p}",
            "TRUNCATE audit_auditevent_default",
        ],
    )
    def test_app_role_cannot_touch_a_partition(self, app_role, statement):  # noqa: F811
        audit_record(action=AuditAction.LOGIN)
        refused = pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied|must be owner")
        with _connect_as(app_role) as conn, refused:
            conn.execute(statement.format(p=self.partition()))
        assert AuditEvent.objects.count() == 1

    def test_app_role_makes_a_new_partition_which_it_cannot_touch(self, app_role):  # noqa: F811
        try:
            with _connect_as(app_role) as conn:
                assert conn.execute("SELECT audit_partition_create('2037-04-01')").fetchone() == (
                    "audit_auditevent_2037_04",
                )
                conn.execute(
                    "INSERT INTO audit_auditevent (occurred_at, roles, action, nhs_number, outcome, trace_id, detail)"
                    " VALUES ('2037-04-02', '', 'login', '', 'success', '', '{}')"
                )
                for statement in (
                    "UPDATE audit_auditevent_2037_04 SET action = 'logout'",
                    "TRUNCATE audit_auditevent_2037_04",
                    "DROP TABLE audit_auditevent_2037_04",
                ):
                    with pytest.raises(psycopg.errors.InsufficientPrivilege):
                        conn.execute(statement)
                assert conn.execute(
                    "SELECT action FROM audit_auditevent WHERE occurred_at >= '2037-04-01'"
                ).fetchall() == [("login",)]
        finally:
            with connection.cursor() as cursor:
                cursor.execute("DROP TABLE IF EXISTS audit_auditevent_2037_04")

    def test_truncate_trigger_stops_a_role_granted_truncate_on_a_new_partition(self, role):  # noqa: F811
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT audit_partition_create('2038-09-01')")
                cursor.execute(
                    sql.SQL("GRANT TRUNCATE ON audit_auditevent_2038_09, audit_auditevent_default TO {}").format(
                        sql.Identifier(role)
                    )
                )
            for table in ("audit_auditevent_2038_09", "audit_auditevent_default"):
                refused = pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only: TRUNCATE refused")
                with _connect_as(role) as conn, refused:
                    conn.execute(f"TRUNCATE {table}")
        finally:
            with connection.cursor() as cursor:
                cursor.execute("DROP TABLE IF EXISTS audit_auditevent_2038_09")
