"""The database refuses TRUNCATE on the audit table too, the second line behind privileges.

The application role holds no TRUNCATE privilege (audit/database_roles.py); this trigger also
stops the table owner. A superuser could disable any trigger anyway, so superusers pass: that
keeps the test database's flush between tests working without weakening anything.
"""

from django.db import migrations

POSTGRES_UP = """
CREATE FUNCTION audit_event_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit_auditevent is append-only: TRUNCATE refused'
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_event_no_truncate
    BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_truncate();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_event_refuse_truncate();
"""


def _on_postgresql(sql):
    # SQLite has no TRUNCATE (its DELETE trigger from 0002 already covers a full delete).
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_plan_actions")]

    operations = [migrations.RunPython(_on_postgresql(POSTGRES_UP), _on_postgresql(POSTGRES_DOWN))]
