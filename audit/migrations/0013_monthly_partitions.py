"""The audit table becomes a table partitioned by month of `occurred_at` (PostgreSQL only).

At national scale (20,000,000 events, five years) one table makes every index and every
vacuum as big as the whole history, and retention could only be met by deleting rows, which
the append-only trigger refuses. Partitions keep each month's indexes small, let a date-range
search touch only its months, and let the owner drop a whole month past retention.

The conversion: the old table is renamed, a partitioned table is made with the same columns,
defaults, constraints, foreign keys and indexes, the rows are copied (INSERT, so nothing is
updated or deleted), the old table is dropped and the append-only protection installed again:
- the row trigger refusing UPDATE and DELETE is created on the parent, and PostgreSQL clones it
  onto every partition, present and future;
- the TRUNCATE trigger is a statement trigger, which PostgreSQL does not clone, so it is put on
  every partition by `audit_partition_create`, the one way partitions are made;
- the grants (audit/database_roles.py) revoke every privilege on the partitions from the
  application role, which reaches the rows only through the parent.

Partitions are months in UTC, named `audit_auditevent_YYYY_MM`. `audit_partition_create` runs
as the table owner (SECURITY DEFINER), so the application role, which may not create tables,
can still make next month's partition ahead of time (audit/partitions.py, a beat task). An event
for a month with no partition lands in `audit_auditevent_default`: never lost, never refused,
and still append-only; that month then keeps using the default partition (its rows cannot be
moved without deleting them).

The primary key becomes (id, occurred_at): PostgreSQL requires the partition key in every unique
constraint. `id` still comes from one sequence, so it stays unique, and Django still reads `id`
as the primary key.
"""

from django.conf import settings
from django.db import migrations, models
from django.db.models.fields.json import KeyTransform

PARTITION_FUNCTION = """
CREATE FUNCTION audit_partition_create(month date) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    partition text;
    lower_bound timestamptz;
    upper_bound timestamptz;
BEGIN
    IF month IS NULL OR month <> date_trunc('month', month)::date
            OR month < DATE '2000-01-01' OR month >= DATE '2100-01-01' THEN
        RAISE EXCEPTION 'an audit partition starts on the first of a month from 2000 to 2099, not %', month
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    partition := 'audit_auditevent_' || to_char(month, 'YYYY_MM');
    -- The beat task and the command may run at once: one of them creates, the other finds it.
    PERFORM pg_advisory_xact_lock(hashtext('audit_partition_create'));
    IF to_regclass('public.' || partition) IS NOT NULL THEN
        RETURN NULL;
    END IF;
    lower_bound := month::timestamp AT TIME ZONE 'UTC';
    upper_bound := (month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
    -- A month whose events already went to the default partition stays there: moving them
    -- would mean deleting them from it, which the append-only trigger refuses.
    IF EXISTS (
        SELECT 1 FROM public.audit_auditevent_default
        WHERE occurred_at >= lower_bound AND occurred_at < upper_bound
    ) THEN
        RAISE WARNING 'audit partition % not created: its events are in audit_auditevent_default', partition;
        RETURN NULL;
    END IF;
    EXECUTE format(
        'CREATE TABLE public.%I PARTITION OF public.audit_auditevent FOR VALUES FROM (%L) TO (%L)',
        partition, lower_bound, upper_bound
    );
    EXECUTE format(
        'CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON public.%I '
        'FOR EACH STATEMENT EXECUTE FUNCTION public.audit_event_refuse_truncate()',
        partition
    );
    RETURN partition;
END;
$$;
REVOKE ALL ON FUNCTION audit_partition_create(date) FROM PUBLIC;
"""

CONVERT = """
DO $$
DECLARE
    definition record;
    index_definitions text[];
    month date;
    oldest timestamptz;
BEGIN
    SELECT array_agg(pg_get_indexdef(indexrelid)) INTO index_definitions
    FROM pg_index WHERE indrelid = 'audit_auditevent'::regclass AND NOT indisprimary;

    ALTER TABLE audit_auditevent RENAME TO audit_auditevent_unpartitioned;
    ALTER TABLE audit_auditevent_unpartitioned RENAME CONSTRAINT audit_auditevent_pkey TO audit_auditevent_unpartitioned_pkey;
    CREATE TABLE audit_auditevent (
        LIKE audit_auditevent_unpartitioned INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS
    ) PARTITION BY RANGE (occurred_at);
    ALTER TABLE audit_auditevent ADD PRIMARY KEY (id, occurred_at);
    FOR definition IN
        SELECT conname, pg_get_constraintdef(oid) AS body FROM pg_constraint
        WHERE conrelid = 'audit_auditevent_unpartitioned'::regclass AND contype = 'f'
    LOOP
        EXECUTE format('ALTER TABLE audit_auditevent ADD CONSTRAINT %I %s', definition.conname, definition.body);
    END LOOP;
    -- The indexes keep their names (Django's migrations refer to them), so the old ones go first.
    FOR definition IN
        SELECT indexrelid::regclass AS name FROM pg_index
        WHERE indrelid = 'audit_auditevent_unpartitioned'::regclass AND NOT indisprimary
    LOOP
        EXECUTE format('DROP INDEX %s', definition.name);
    END LOOP;
    IF index_definitions IS NOT NULL THEN
        FOR i IN 1 .. array_length(index_definitions, 1) LOOP
            -- "CREATE INDEX x ON public.audit_auditevent USING ..." now names the new table.
            EXECUTE index_definitions[i];
        END LOOP;
    END IF;

    CREATE TABLE audit_auditevent_default PARTITION OF audit_auditevent DEFAULT;
    CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_auditevent_default
        FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_truncate();
    -- A month for every month of the history (up to ten years back) and two months ahead.
    SELECT min(occurred_at) INTO oldest FROM audit_auditevent_unpartitioned;
    month := date_trunc('month', greatest(
        coalesce(oldest, now()), now() - interval '10 years'
    ) AT TIME ZONE 'UTC')::date;
    WHILE month <= (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '2 months')::date LOOP
        PERFORM audit_partition_create(month);
        month := (month + interval '1 month')::date;
    END LOOP;

    CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_auditevent
        FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change();
    CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_auditevent
        FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_truncate();
    -- Foreign keys checked now, not at commit: a table with pending checks cannot be altered.
    SET CONSTRAINTS ALL IMMEDIATE;
    INSERT INTO audit_auditevent SELECT * FROM audit_auditevent_unpartitioned;
    PERFORM setval(
        pg_get_serial_sequence('audit_auditevent', 'id'),
        coalesce((SELECT max(id) FROM audit_auditevent), 0) + 1,
        false
    );
    -- DROP is not DELETE: the row trigger does not fire, and only the owner may do it.
    DROP TABLE audit_auditevent_unpartitioned;
    EXECUTE format(
        'ALTER SEQUENCE %s RENAME TO audit_auditevent_id_seq', pg_get_serial_sequence('audit_auditevent', 'id')
    );
END;
$$;
"""

# Back to one table, the same way round: copy, drop, protect again.
UNCONVERT = """
DO $$
DECLARE
    definition record;
    index_definitions text[];
BEGIN
    SELECT array_agg(pg_get_indexdef(indexrelid)) INTO index_definitions
    FROM pg_index WHERE indrelid = 'audit_auditevent'::regclass AND NOT indisprimary;
    ALTER TABLE audit_auditevent RENAME TO audit_auditevent_partitioned;
    ALTER TABLE audit_auditevent_partitioned RENAME CONSTRAINT audit_auditevent_pkey TO audit_auditevent_partitioned_pkey;
    CREATE TABLE audit_auditevent (
        LIKE audit_auditevent_partitioned INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS
    );
    ALTER TABLE audit_auditevent ADD PRIMARY KEY (id);
    FOR definition IN
        SELECT conname, pg_get_constraintdef(oid) AS body FROM pg_constraint
        WHERE conrelid = 'audit_auditevent_partitioned'::regclass AND contype = 'f'
    LOOP
        EXECUTE format('ALTER TABLE audit_auditevent ADD CONSTRAINT %I %s', definition.conname, definition.body);
    END LOOP;
    FOR definition IN
        SELECT indexrelid::regclass AS name FROM pg_index
        WHERE indrelid = 'audit_auditevent_partitioned'::regclass AND NOT indisprimary
    LOOP
        EXECUTE format('DROP INDEX %s', definition.name);
    END LOOP;
    IF index_definitions IS NOT NULL THEN
        FOR i IN 1 .. array_length(index_definitions, 1) LOOP
            EXECUTE replace(index_definitions[i], ' ONLY ', ' ');
        END LOOP;
    END IF;
    CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_auditevent
        FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change();
    CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_auditevent
        FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_truncate();
    -- Foreign keys checked now, not at commit: a table with pending checks cannot be altered.
    SET CONSTRAINTS ALL IMMEDIATE;
    INSERT INTO audit_auditevent SELECT * FROM audit_auditevent_partitioned;
    PERFORM setval(
        pg_get_serial_sequence('audit_auditevent', 'id'),
        coalesce((SELECT max(id) FROM audit_auditevent), 0) + 1,
        false
    );
    DROP TABLE audit_auditevent_partitioned CASCADE;
    EXECUTE format(
        'ALTER SEQUENCE %s RENAME TO audit_auditevent_id_seq', pg_get_serial_sequence('audit_auditevent', 'id')
    );
END;
$$;
DROP FUNCTION audit_partition_create(date);
"""


def _on_postgresql(*statements):
    # SQLite (the demo) keeps one table: it has no partitions and never holds national data.
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0012_passkey_and_single_sign_on_actions"), migrations.swappable_dependency(settings.AUTH_USER_MODEL)]

    operations = [
        migrations.RunPython(_on_postgresql(PARTITION_FUNCTION, CONVERT), _on_postgresql(UNCONVERT)),
        # The (user, time) and (organisation, time) indexes already serve every lookup by user or
        # organisation; a second index per column only slowed each insert.
        migrations.AlterField(
            model_name="auditevent",
            name="organisation",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=models.deletion.PROTECT,
                related_name="+",
                to="accounts.organisation",
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="user",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["action", "-occurred_at"], name="audit_action_time_idx"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                KeyTransform("subject_user_id", "detail"),
                models.F("occurred_at").desc(),
                condition=models.Q(organisation__isnull=True),
                name="audit_subject_user_time_idx",
            ),
        ),
    ]
