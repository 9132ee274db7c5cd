"""bench.privacy: the access-pattern alerts' scan over the national-scale audit log, beside a
plain scan of the same day's rows.

1. the audit bench's database and events (bench.audit: BENCH_AUDIT_EVENTS, 20,000,000 over
   five years, 5,000 users; BENCH_AUDIT_DATABASE), migrated for the privacy tables;
2. "one day's new events": the day up to the log's newest event. The plain scan reads that
   day's checks (the rows the rules start from) and nothing else;
3. the nightly roll-up of the users' usual (privacy/baselines.py) up to the day before the
   window's first, timed once (kept in the database, so a second run finds it done);
4. the scan (`privacy.services.alerts_scan`) from one day before the newest event: the new
   checks, their users' history, the rules, the alerts; twice: with the history from the
   roll-up's summaries (as beat runs it), and from the audit log (as when the roll-up has not
   run). Rolled back after each run, so every run does the same work;
5. prints the best of BENCH_PRIVACY_RUNS (5) for each, and the ratios, with the load average.
   Each round runs the plain scan and both scans one after the other, so a burst of load on a
   shared machine weighs on all three alike rather than on whichever ran during it.

Goal (issue 29): the scan within 3× the plain scan. Numbers are only comparable within one run.
Run just this one with `python -m bench privacy`.
"""

import os
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.db import connections, transaction
from django.db.models import Max
from django.utils import timezone

from bench import audit, check
from bench._database import bench_database, database_ensure

RUNS = int(os.environ.get("BENCH_PRIVACY_RUNS", 5))


class _RolledBack(Exception):
    pass


def _best_interleaved(*works: Callable[[], int]) -> list[tuple[float, int]]:
    """The best time and the result of each of `works`, over RUNS rounds of all of them."""
    best = [(float("inf"), 0) for _ in works]
    for _ in range(RUNS):
        for i, work in enumerate(works):
            started = time.perf_counter()
            result = work()
            best[i] = min(best[i], (time.perf_counter() - started, result))
    return best


def run() -> None:
    from audit.models import AuditEvent
    from privacy.baselines import baselines_roll_up
    from privacy.models import AlertScan, BaselineRollUp
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

        def scan(*, summaries: bool) -> int:
            raised = 0
            try:
                with transaction.atomic():
                    AlertScan.objects.update_or_create(id=1, defaults={"scanned_until": day_start})
                    if not summaries:
                        BaselineRollUp.objects.filter(id=1).update(rolled_until=None)
                    raised = alerts_scan(now=newest + timedelta(seconds=settings.PRIVACY_SCAN_LAG_SECONDS))
                    raise _RolledBack
            except _RolledBack:
                pass
            return raised

        # As beat meets it: the nightly roll-up holds the days before the scanned window, never
        # the window's own. Rolled up to the day before the newest event's, a window that starts
        # the evening before would find most of its checks already summarised, and how many would
        # depend on the hour the log was built.
        window_day = timezone.localdate(day_start)
        BaselineRollUp.objects.filter(id=1, rolled_until__gte=window_day).update(rolled_until=None)
        started = time.perf_counter()
        rolled = baselines_roll_up(today=window_day)
        roll_up_seconds = time.perf_counter() - started
        (plain_seconds, checks), (summary_seconds, raised), (raw_seconds, raised_raw) = _best_interleaved(
            plain, lambda: scan(summaries=True), lambda: scan(summaries=False)
        )
        load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
        print(f"{audit.EVENTS:,} audit events; one day's new checks: {checks:,}; best of {RUNS}; load {load}")
        if rolled:
            print(
                f"nightly roll-up of the baselines (first: {settings.PRIVACY_BASELINE_DAYS + 3} days) {roll_up_seconds:6.1f} s"
            )
        print(f"plain scan of the day's rows               {plain_seconds * 1000:8.0f} ms")
        print(f"alert scan, summaries ({raised:,} alerts)     {summary_seconds * 1000:8.0f} ms")
        print(f"alert scan, audit log ({raised_raw:,} alerts)     {raw_seconds * 1000:8.0f} ms")
        print(
            f"ratio {summary_seconds / plain_seconds:.1f}× from the summaries (goal within 3×), "
            f"{raw_seconds / plain_seconds:.1f}× from the audit log"
        )
