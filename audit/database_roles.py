"""The privileges of the application's database role (DATABASE_APP_ROLE) and of the backup role
(DATABASE_BACKUP_ROLE), applied after migrate.

Migrations run as the role that owns the tables; web, worker and beat connect as an application
role that owns nothing, so it cannot ALTER a table, disable its triggers, TRUNCATE it or switch
`session_replication_role`. It may read and write every table, except that the audit table is
read and append only: the database, not our code, keeps the audit log append-only.

On PostgreSQL the audit table is partitioned by month (audit/partitions.py). The role reaches
the rows only through the parent, whose privileges are the ones checked, so it holds no
privilege at all on any partition; a partition made later by `audit_partition_create` (which
runs as the owner) gives it none either. It may call that function, and nothing else of DDL.

The backup role (`manage.py backup_database`, operations/backup.py) is the other way round:
pg_dump reads every partition directly, so it must read every table, partitions included,
and write none. `migrate` grants it SELECT on everything the owner has made so far, and sets
the owner's default privileges so that whatever the owner makes later is readable by it too:
above all each new month's audit partition, which `audit_partition_create` makes as the owner
when beat's daily job or `manage.py audit_partitions` asks for it.
"""

from django.conf import settings
from django.db import connection
from psycopg import sql

AUDIT_TABLE = "audit_auditevent"
PARTITION_FUNCTION = "audit_partition_create(date)"


def app_role_grant(*, role: str) -> None:
    """Grant `role` what the service needs on every table the owner has created so far.

    Run after every migrate (a post_migrate handler), so new tables are covered and no default
    privileges can hand UPDATE on the audit table (or a future partition of it) to anyone.
    """
    statements = (
        "GRANT USAGE ON SCHEMA public TO {role}",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        "REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {audit} FROM {role}",
    )
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(sql.SQL(statement).format(role=sql.Identifier(role), audit=sql.Identifier(AUDIT_TABLE)))
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = to_regclass(%s)",
            [AUDIT_TABLE],
        )
        for (partition,) in cursor.fetchall():
            cursor.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(sql.Identifier(partition), sql.Identifier(role)))
        cursor.execute("SELECT to_regprocedure(%s)", [PARTITION_FUNCTION])
        if cursor.fetchone()[0] is not None:
            cursor.execute(
                sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(sql.SQL(PARTITION_FUNCTION), sql.Identifier(role))
            )


def backup_role_grant(*, role: str) -> None:
    """Grant `role` read access to every table and sequence, present and future, and nothing else.

    Run after every migrate as the owner. ALTER DEFAULT PRIVILEGES applies to what the current
    role (the owner) creates from now on, which includes the partitions `audit_partition_create`
    makes: it is SECURITY DEFINER, so it creates them as the owner. Every write privilege is
    revoked, so a role given more by hand is brought back to reading.
    """
    statements = (
        "GRANT USAGE ON SCHEMA public TO {role}",
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
        "GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        "REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {role}",
        "REVOKE USAGE, UPDATE ON ALL SEQUENCES IN SCHEMA public FROM {role}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {role}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON SEQUENCES TO {role}",
    )
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(sql.SQL(statement).format(role=sql.Identifier(role)))


def grant_after_migrate(sender, using="default", **kwargs) -> None:
    if connection.vendor != "postgresql" or using != "default":
        return
    if settings.DATABASE_APP_ROLE:
        app_role_grant(role=settings.DATABASE_APP_ROLE)
    if settings.DATABASE_BACKUP_ROLE:
        backup_role_grant(role=settings.DATABASE_BACKUP_ROLE)
