"""bench.privacy: the access-pattern alerts' scan over the national-scale audit log, beside a
plain scan of the same day's rows.

1. the audit bench's database and events (bench.audit: BENCH_AUDIT_EVENTS, 20,000,000 over
   five years, 5,000 users; BENCH_AUDIT_DATABASE), migrated for the privacy tables;
2. "one day's new events": the day up to the log's newest event. The plain scan reads that
   day's checks (the rows the rules start from) and nothing else;
3. the scan (`privacy.services.alerts_scan`) from one day before the newest event: the new
   checks, their users' 30-day history, the rules, the alerts. Rolled back after each run, so
   every run does the same work;
4. prints the best of BENCH_PRIVACY_RUNS (3) for each, and their ratio.

Goal (issue 29): the scan within 3× the plain scan. Numbers are only comparable within one run.
Run just this one with `python -m bench privacy`.
"""

import os
import time
from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.db import connections, transaction
from django.db.models import Max

from bench import audit, check
from bench._database import bench_database, database_ensure

RUNS = int(os.environ.get("BENCH_PRIVACY_RUNS", 3))


class _RolledBack(Exception):
    pass


def _best(work) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(RUNS):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def run() -> None:
    from audit.models import AuditEvent
    from privacy.models import AlertScan
    from privacy.rules import CHECK_ACTIONS
    from privacy.services import alerts_scan

    database_ensure(connections["default"].settings_dict, audit.DATABASE)
    with bench_database(audit.DATABASE) as db:
        call_command("migrate", verbosity=0)
        audit._people()
        audit._load(db, check._valid_nhs_numbers(audit.CHILDREN))
        newest = AuditEvent.objects.aggregate(newest=Max("occurred_at"))["newest"]
        day_start = newest - timedelta(days=1)

        def plain() -> int:
            rows = AuditEvent.objects.filter(
                action__in=CHECK_ACTIONS, occurred_at__gt=day_start, occurred_at__lte=newest
            ).values_list("id", "occurred_at", "user_id", "organisation_id", "action", "nhs_number", "detail")
            return sum(1 for _ in rows.iterator(chunk_size=5000))

        def scan() -> int:
            raised = 0
            try:
                with transaction.atomic():
                    AlertScan.objects.update_or_create(id=1, defaults={"scanned_until": day_start})
                    raised = alerts_scan(now=newest + timedelta(seconds=settings.PRIVACY_SCAN_LAG_SECONDS))
                    raise _RolledBack
            except _RolledBack:
                pass
            return raised

        plain_seconds, checks = _best(plain)
        scan_seconds, raised = _best(scan)
        print(f"{audit.EVENTS:,} audit events; one day's new checks: {checks:,}")
        print(f"plain scan of the day's rows   {plain_seconds * 1000:8.0f} ms")
        print(f"alert scan (rules, {raised:,} alerts) {scan_seconds * 1000:8.0f} ms")
        print(f"ratio {scan_seconds / plain_seconds:.1f}× (goal within 3×)")
