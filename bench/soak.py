"""bench.soak: the check journey held for minutes, its p50 printed minute by minute.

A check that slows as checks accumulate only shows over time: each minute adds visits, audit
events, notifications and deliveries, and any of the check's reads that grows with them (or
a plan that stops fitting) shows as a rising p50. The outside reliability test saw 22-30 ms
become 74 ms over 10 minutes; this reproduces its set-up on this machine.

1. a database of its own (`cpis_bench_soak`, or BENCH_SOAK_DATABASE), loaded as bench.check
   loads its own (150,000 plans, 1,000,000 visits; visits, notifications and audit reloaded
   each run, so every soak starts from the same state);
2. gunicorn as docker-compose runs it (bench.check's), and one Celery worker consuming every
   queue (as `make run`'s), which delivers the notifications and trims the histories; it is
   killed (SIGKILL) every BENCH_SOAK_KILL_EVERY seconds (120; 0: never) and started again,
   as the outside test killed workers;
3. BENCH_CLIENTS (16) clients send checks (POST /check/, nine in ten of children on plans)
   back to back, fresh random children each minute, with the insider limit on but never
   reached (BENCH_SOAK_CHECK_LIMIT, 1,000,000), as production runs it;
4. prints, for each minute: the checks done, their p50 and p95, the bare one-query view's
   p50 over the minute's last 5 s (the machine's own noise), and the rows the check's tables
   then hold (visits, audit events, notifications, deliveries still waiting), so a rising
   p50 can be set beside what grew.

Minutes: `python -m bench soak --minutes 3`, or BENCH_SOAK_MINUTES; default 10. Minutes long,
so a bare `make bench` runs it only with BENCH_SOAK=1 (or `--minutes`).
"""

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from django.conf import settings
from django.core.management import call_command

from bench import check
from bench._database import bench_database, conninfo, database_ensure

DATABASE = os.environ.get("BENCH_SOAK_DATABASE", "cpis_bench_soak")
KILL_EVERY = float(os.environ.get("BENCH_SOAK_KILL_EVERY", 120))
# The insider limit is on in production, so its query is part of every check: on here too, high
# enough that one user's soak is never refused (bench.check turns it off).
CHECK_LIMIT = os.environ.get("BENCH_SOAK_CHECK_LIMIT", "1000000")
# Each minute ends with this many seconds of the bare one-query view: the machine's own noise
# (other load on a shared machine), to set beside the check's p50.
BARE_SECONDS = 5.0

# What grew, read beside each minute's latencies (cheap: an estimate for the big tables).
_SIZES = """
SELECT (SELECT count(*) FROM attendances_visit WHERE recorded_at > now() - interval '1 day'),
       (SELECT count(*) FROM audit_auditevent),
       (SELECT count(*) FROM notifications_notification),
       (SELECT count(*) FROM notifications_delivery WHERE status IN ('pending', 'sending'))
"""


def _minutes(argv: list[str]) -> float | None:
    parser = argparse.ArgumentParser(prog="python -m bench soak", add_help=False)
    parser.add_argument("--minutes", type=float)
    known, _ = parser.parse_known_args(argv)
    return known.minutes


def _reseeded(make, minute: int):
    """bench.check seeds each client by its index; a soak drives its clients afresh each
    minute, and the same seeds would check the same children every minute (a history that
    grows by one visit a minute, which no real day does)."""
    return lambda rng: make(random.Random(minute * 1_000_003 + rng.randrange(1_000_000)))  # noqa: S311


class _Worker:
    """One Celery worker (every queue), killed and started again on a timer."""

    def __init__(self, db: dict, log_path: Path):
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "cpis.settings.base",
            "DATABASE_URL": conninfo(db, DATABASE),
            "REDIS_URL": check.REDIS,
            "CELERY_BROKER_URL": check.REDIS,
            "SECRET_KEY": settings.SECRET_KEY,
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "LOG_LEVEL": "WARNING",
        }
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.kills = 0

    def start(self) -> None:
        log = open(self.log_path, "a")  # noqa: SIM115 - the worker keeps it open
        self.process = subprocess.Popen(  # noqa: S603 - our own fixed command line
            [sys.executable, "-m", "celery", "-A", "cpis", "worker", "--concurrency=2",
             "--without-gossip", "--without-mingle", "--loglevel=WARNING"],
            cwd=settings.BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
            self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def run() -> None:
    minutes = _minutes(sys.argv[1:])
    if minutes is None and "soak" not in sys.argv[1:] and not os.environ.get("BENCH_SOAK"):
        print("skipped (minutes long): run `python -m bench soak [--minutes N]`, or set BENCH_SOAK=1")
        return
    if minutes is None:
        minutes = float(os.environ.get("BENCH_SOAK_MINUTES", 10))
    from django.db import connections

    database_ensure(connections["default"].settings_dict, DATABASE)
    children = check._valid_nhs_numbers(check.PLANS - 10_000)
    not_on_plan = check._valid_nhs_numbers(5_000, start=900_000)
    with bench_database(DATABASE) as db:
        call_command("migrate", verbosity=0)
        las, care_settings = check._organisations()
        check._load(db, children, las, care_settings, database=DATABASE)
        cookie = check._clinician_cookie(care_settings[0])
        log_path = Path(settings.BASE_DIR) / "var" / "bench-soak-worker.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("")
        worker = _Worker(db, log_path)
        # Stopped whatever happens: a worker left running would go on delivering (and
        # skewing) the next run.
        try:
            worker.start()
            with (
                check._gunicorn(db, DATABASE, {"CHECK_RATE_LIMIT_PER_HOUR": CHECK_LIMIT}),
                psycopg.connect(conninfo(db, DATABASE), autocommit=True) as sizes,
            ):
                for _ in range(2 * check.WORKERS):
                    check._request("GET", "/check/", headers={"Cookie": cookie}, timeout=300)
                make = check._check_request_factory(cookie, children, not_on_plan)
                check._drive(make, seconds=check.WARM_UP)
                print(
                    f"{minutes:g} minutes of checks: {check.CLIENTS} clients, {check.WORKERS} gunicorn workers, "
                    f"one Celery worker killed every {KILL_EVERY:g} s; load average before: {check._load_average()}"
                )
                print(
                    "minute  checks  errors  p50 ms  p95 ms  bare p50 ms  visits today  audit events  notifications  waiting"
                )
                last_kill = time.monotonic()
                p50s = []
                for minute in range(1, int(minutes) + (minutes % 1 > 0) + 1):
                    seconds = min(60.0, (minutes - minute + 1) * 60) - BARE_SECONDS
                    ok, errors, latencies, _ = check._drive(_reseeded(make, minute), seconds=seconds)
                    bare = statistics.median(check._drive(check._bare_request, seconds=BARE_SECONDS)[2]) * 1000
                    if KILL_EVERY and time.monotonic() - last_kill >= KILL_EVERY:
                        worker.kill()
                        worker.start()
                        last_kill = time.monotonic()
                    visits, audit, notifications, waiting = sizes.execute(_SIZES).fetchone()
                    p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
                    p95 = statistics.quantiles(latencies, n=20)[18] * 1000 if len(latencies) > 1 else float("nan")
                    p50s.append(p50)
                    print(
                        f"{minute:>6}  {ok:>6,}  {errors:>6,}  {p50:>6.1f}  {p95:>6.1f}  {bare:>11.1f}  {visits:>12,}  "
                        f"{audit:>12,}  {notifications:>13,}  {waiting:>7,}",
                        flush=True,
                    )
        finally:
            worker.stop()
        print(f"load average after: {check._load_average()}; worker killed {worker.kills} times")
        if len(p50s) > 1:
            print(f"p50 first minute {p50s[0]:.1f} ms, last minute {p50s[-1]:.1f} ms ({p50s[-1] / p50s[0]:.2f}x)")
    check._broker_flush()
