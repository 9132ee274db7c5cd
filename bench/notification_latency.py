"""A notification in the LA inbox within 1 s (p95) of the check, beside a no-op task's trip.

A steady stream of checks (visit + notification in one transaction, as the check journey
does) with a real Celery worker on the configured broker. For each check: from its COMMIT to
the worker marking the notification delivered to the inbox (`delivered_to_inbox_at`, written
by the worker on this machine's clock). Baseline, same broker and worker: a no-op task, from
publish to the worker running it.

Runs against DATABASE_URL and CELERY_BROKER_URL (a Redis broker is required); it creates its own
organisations and plans (ODS codes BENCH…) and deletes everything it made at the end.
"""

import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import redis
from celery import shared_task
from django.conf import settings
from django.core.management import call_command
from django.db import transaction

from bench._database import conninfo, database_ensure

CHECKS = int(os.environ.get("BENCH_NOTIFICATION_CHECKS", "300"))
RATE_PER_SECOND = float(os.environ.get("BENCH_NOTIFICATION_RATE", "10"))
_NOOP_KEY = "cpis:bench:noop-ran"


@shared_task(ignore_result=True)
def bench_noop(sent_at: float) -> None:
    # The least a task can do and still tell us when it ran.
    redis.Redis.from_url(os.environ["BENCH_REDIS_URL"]).rpush(_NOOP_KEY, f"{sent_at}:{time.time()}")


def _database_url() -> str:
    db = settings.DATABASES["default"]
    return conninfo(db, db["NAME"])


def _start_worker(broker_url: str, redis_url: str, log_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cpis.settings.base",
        "PYTHONPATH": str(settings.BASE_DIR),
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": broker_url,
        "BENCH_REDIS_URL": redis_url,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-secret-key-not-for-production-0123456789"),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "LOG_LEVEL": "WARNING",
    }
    log = open(log_path, "w")  # noqa: SIM115 - the worker keeps it open
    process = subprocess.Popen(  # noqa: S603 - our own fixed command line
        [sys.executable, "-m", "celery", "-A", "cpis", "worker", "--concurrency=2", "--include=bench.notification_latency",
         "--without-gossip", "--without-mingle", "--loglevel=INFO"],
        cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text():
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"worker did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    return process


def _paced(count: int):
    interval = 1 / RATE_PER_SECOND
    start = time.monotonic()
    for i in range(count):
        delay = start + i * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield i


def _percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * len(ms))) - 1)]
    return f"p50 {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   max {ms[-1]:7.1f} ms   (n={len(ms)})"


def _noop_round_trips(redis_url: str) -> list[float]:
    client = redis.Redis.from_url(redis_url)
    client.delete(_NOOP_KEY)
    for _ in _paced(CHECKS):
        bench_noop.delay(time.time())
    deadline = time.monotonic() + 60
    while client.llen(_NOOP_KEY) < CHECKS and time.monotonic() < deadline:
        time.sleep(0.1)
    pairs = [tuple(map(float, v.decode().split(":"))) for v in client.lrange(_NOOP_KEY, 0, -1)]
    client.delete(_NOOP_KEY)
    return [ran - sent for sent, ran in pairs]


def _check_latencies() -> list[float]:
    from django.utils import timezone

    from accounts.models import Organisation, OrganisationKind, SettingType
    from attendances.models import Visit
    from notifications.models import Notification
    from notifications.services import notification_record_attendance
    from plans.models import Plan
    from tests.factories import nhs_number_for

    la = Organisation.objects.create(
        ods_code="BENCHLA", name="Bench County Council", kind=OrganisationKind.LOCAL_AUTHORITY,
        emergency_duty_phone="0113 496 0999", team_mailbox="bench@la.example",
    )  # fmt: skip
    setting = Organisation.objects.create(
        ods_code="BENCHCS", name="Bench ED", kind=OrganisationKind.CARE_SETTING, setting_type=SettingType.ED
    )
    try:
        numbers = list(dict.fromkeys(nhs_number_for(900_000 + i) for i in range(CHECKS * 2)))[:CHECKS]
        plans = Plan.objects.bulk_create(
            Plan(organisation=la, nhs_number=n, family_name="Bench", given_names="Child",
                 date_of_birth=timezone.localdate() - timedelta(days=8 * 365), plan_type="CPP",
                 start_date=timezone.localdate() - timedelta(days=100))
            for n in numbers
        )  # fmt: skip
        committed: dict[str, float] = {}
        for i in _paced(CHECKS):
            plan = plans[i]
            with transaction.atomic():
                # Registered first, so it runs first after COMMIT, before the publish.
                transaction.on_commit(lambda n=plan.nhs_number: committed.__setitem__(n, time.time()))
                visit = Visit.objects.create(
                    nhs_number=plan.nhs_number, arrived_at=timezone.now(), care_setting=setting,
                    checked_by_name="Bench Clinician", checked_by_role="clinician",
                )  # fmt: skip
                notification_record_attendance(visit=visit, plans=[plan])
        delivered = Notification.objects.filter(local_authority=la, delivered_to_inbox_at__isnull=False)
        deadline = time.monotonic() + 60
        while delivered.count() < CHECKS and time.monotonic() < deadline:
            time.sleep(0.2)
        return [
            at.timestamp() - committed[nhs] for nhs, at in delivered.values_list("nhs_number", "delivered_to_inbox_at")
        ]
    finally:
        Notification.objects.filter(local_authority=la).delete()  # deliveries cascade
        Visit.objects.filter(care_setting=setting).delete()
        Plan.objects.filter(organisation=la).delete()
        la.delete()
        setting.delete()


def run() -> None:
    from cpis.celery import app

    broker_url = settings.CELERY_BROKER_URL
    if not broker_url.startswith("redis://"):
        print("skipped: needs CELERY_BROKER_URL pointing at Redis")
        return
    redis_url = os.environ.get("BENCH_REDIS_URL", broker_url)
    os.environ["BENCH_REDIS_URL"] = redis_url
    database_ensure(settings.DATABASES["default"], settings.DATABASES["default"]["NAME"])
    call_command("migrate", verbosity=0)
    app.conf.task_always_eager = False
    log_path = Path(settings.BASE_DIR) / "var" / "bench-notification-worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    worker = _start_worker(broker_url, redis_url, log_path)
    try:
        print(f"{CHECKS} checks at {RATE_PER_SECOND:g}/s, one worker (2 processes), broker {broker_url.split('@')[-1]}")
        noop = _noop_round_trips(redis_url)
        checks = _check_latencies()
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(timeout=30)
    print(f"baseline  no-op task, publish → run on worker:      {_percentiles(noop)}")
    print(f"measured  check COMMIT → notification in LA inbox:  {_percentiles(checks)}")
    if len(checks) < CHECKS:
        print(f"WARNING: only {len(checks)} of {CHECKS} notifications reached the inbox within 60 s")
    verdict = "meets" if sorted(checks)[int(0.95 * len(checks)) - 1] < 1.0 else "MISSES"
    print(f"goal: p95 < 1 s: {verdict}")
