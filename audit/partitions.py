"""The audit table's monthly partitions (PostgreSQL): made ahead of time, dropped past retention.

Each month of `occurred_at` (in UTC) has its own partition, `audit_auditevent_YYYY_MM`, made by
the database function `audit_partition_create` (migration 0011), which runs as the table owner
and puts the TRUNCATE trigger on it. The rule: every day the beat task makes sure this month's
and the next `AUDIT_PARTITIONS_AHEAD` months' partitions exist, so a month's partition is there
weeks before its first event. Should beat stop for longer than that, events go to the DEFAULT
partition: none is lost or refused, and they are as append-only there as anywhere.

Past retention (`AUDIT_RETENTION_MONTHS`), a month's partition is detached and dropped whole by
`manage.py audit_partitions --drop-expired`, run as the owner role that runs migrations. The
application role cannot: it owns nothing, and no beat task tries.
"""

import datetime as dt
import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

logger = logging.getLogger(__name__)

PREFIX = "audit_auditevent_"
DEFAULT_PARTITION = "audit_auditevent_default"


def month_start(moment: dt.datetime) -> dt.date:
    utc = moment.astimezone(dt.UTC)
    return dt.date(utc.year, utc.month, 1)


def months_after(month: dt.date, count: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


def partition_name(month: dt.date) -> str:
    return f"{PREFIX}{month:%Y_%m}"


def partitioned() -> bool:
    return connection.vendor == "postgresql"


def partitions() -> list[str]:
    """The monthly partitions, oldest first (not the default one)."""
    if not partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = to_regclass('audit_auditevent') ORDER BY c.relname"
        )
        return [name for (name,) in cursor.fetchall() if name != DEFAULT_PARTITION]


def partitions_ensure(*, months_ahead: int | None = None) -> list[str]:
    """Makes this month's partition and the next `months_ahead`; returns those it made.

    Idempotent: a partition that exists is left alone. A month whose events already went to the
    default partition is not made (the database says so in a warning): it stays there.
    """
    if not partitioned():
        return []
    ahead = settings.AUDIT_PARTITIONS_AHEAD if months_ahead is None else months_ahead
    first = month_start(timezone.now())
    made = []
    with connection.cursor() as cursor:
        for offset in range(ahead + 1):
            cursor.execute("SELECT audit_partition_create(%s)", [months_after(first, offset)])
            name = cursor.fetchone()[0]
            if name:
                made.append(name)
    if made:
        logger.info("audit partitions created: %s", ", ".join(made))
    return made


def partitions_expired(*, retention_months: int | None = None) -> list[str]:
    """Monthly partitions whose whole month ended more than the retention period ago."""
    months = settings.AUDIT_RETENTION_MONTHS if retention_months is None else retention_months
    keep_from = months_after(month_start(timezone.now()), -months)
    return [name for name in partitions() if name < partition_name(keep_from)]


def partitions_drop_expired(*, retention_months: int | None = None) -> list[str]:
    """Detaches and drops the expired months. Only the owner role may: for any other role the
    database refuses ("must be owner"), and nothing is dropped."""
    dropped = []
    for name in partitions_expired(retention_months=retention_months):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql.SQL("ALTER TABLE audit_auditevent DETACH PARTITION {}").format(sql.Identifier(name)))
            cursor.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
        logger.warning("audit partition dropped after retention: %s", name)
        dropped.append(name)
    return dropped
