"""bench.delivery: outbox delivery throughput with one and four Celery workers, and the time
the sweeper takes to drain a backlog after an outage. Slow (minutes): run it with
`python -m bench delivery`; a bare `make bench` skips it unless BENCH_DELIVERY=1.

Real workers (`celery worker`, one process each, consuming every queue as `make run`'s worker
does) on real Redis, against a database of their own (`cpis_bench_delivery`, or
BENCH_DELIVERY_DATABASE). Webhooks go to a local receiver (tests/notifications/webhook_receiver,
checking each signature); the inbox channel is a database update.

1. **Throughput**, for 1 and for 4 workers: BENCH_DELIVERY_COUNT (2,000) pending deliveries of
   one channel, published as the check's fan-out publishes them (`delivery_dispatch`), timed
   from the first publish until the last row is SENT. Baseline, same workers and broker: as
   many no-op tasks, from the first publish until the last has run.
2. **Drain after an outage**: BENCH_DELIVERY_BACKLOG (100,000) inbox deliveries left PENDING
   and overdue, as when Redis was down for the checks that made them; with 4 workers running,
   the sweeper's task is published every NOTIFICATION_SWEEP_INTERVAL seconds, as beat does,
   and the time until the last row is SENT is printed (BENCH_DELIVERY_DRAIN_LIMIT, 1,800 s,
   stops the wait and prints how far it got).
"""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import redis
from celery import shared_task
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from bench._database import conninfo, database_ensure

DATABASE = os.environ.get("BENCH_DELIVERY_DATABASE", "cpis_bench_delivery")
COUNT = int(os.environ.get("BENCH_DELIVERY_COUNT", 2_000))
BACKLOG = int(os.environ.get("BENCH_DELIVERY_BACKLOG", 100_000))
DRAIN_LIMIT = float(os.environ.get("BENCH_DELIVERY_DRAIN_LIMIT", 1_800))
LOCAL_AUTHORITIES = 20
_NOOP_KEY = "cpis:bench:delivery-noop"
_WEBHOOK_SECRET = "bench-webhook-secret-0123456789-abcdefghijklmnop"


@shared_task(ignore_result=True)
def bench_delivery_noop() -> None:
    redis.Redis.from_url(os.environ["BENCH_REDIS_URL"]).incr(_NOOP_KEY)


def _loadavg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _start_workers(count: int, db: dict, broker_url: str) -> list[subprocess.Popen]:
    from tests.tls import RECEIVER_HOST, local_certificates

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cpis.settings.base",
        "PYTHONPATH": str(settings.BASE_DIR),
        "DATABASE_URL": conninfo(db, DATABASE),
        "CELERY_BROKER_URL": broker_url,
        "REDIS_URL": broker_url,
        "BENCH_REDIS_URL": broker_url,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-secret-key-not-for-production-0123456789"),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "LOG_LEVEL": "WARNING",
        # The receiver (tests/tls.py): its loopback address let through, its test CA trusted.
        "OUTBOUND_ALLOWED_NETWORKS": f"{RECEIVER_HOST}/32",
        "OUTBOUND_CA_BUNDLE": str(local_certificates().ca_path),
    }
    queues = ",".join(q.name for q in settings.CELERY_TASK_QUEUES)
    workers = []
    for n in range(count):
        log_path = Path(settings.BASE_DIR) / "var" / f"bench-delivery-worker-{n}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "w")  # noqa: SIM115 - the worker keeps it open
        workers.append(
            subprocess.Popen(  # noqa: S603 - our own fixed command line
                [sys.executable, "-m", "celery", "-A", "cpis", "worker", "--concurrency=1", f"--queues={queues}",
                 "--include=bench.delivery", "--without-gossip", "--without-mingle", "--without-heartbeat",
                 f"--hostname=bench{n}@%h", "--loglevel=INFO"],
                cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        )  # fmt: skip
    deadline = time.monotonic() + 120
    for n, worker in enumerate(workers):
        log_path = Path(settings.BASE_DIR) / "var" / f"bench-delivery-worker-{n}.log"
        while "ready." not in log_path.read_text():
            if time.monotonic() > deadline or worker.poll() is not None:
                _stop_workers(workers)
                raise RuntimeError(f"worker did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
    return workers


def _stop_workers(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, 15)
    for worker in workers:
        worker.wait(timeout=60)


def _organisations():
    from accounts.models import Organisation, OrganisationKind, SettingType

    las = [
        Organisation.objects.get_or_create(
            ods_code=f"BDL{i:03d}",
            defaults=dict(name=f"Bench Delivery Council {i}", kind=OrganisationKind.LOCAL_AUTHORITY,
                          office_hours_phone="0113 496 0001", emergency_duty_phone="0113 496 0999",
                          team_mailbox=f"team{i}@la.bench.example"),
        )[0]
        for i in range(LOCAL_AUTHORITIES)
    ]  # fmt: skip
    setting = Organisation.objects.get_or_create(
        ods_code="BDC001",
        defaults=dict(name="Bench Delivery ED", kind=OrganisationKind.CARE_SETTING, setting_type=SettingType.ED),
    )[0]
    return las, setting


_PENDING_SQL = """
WITH made AS (
    INSERT INTO notifications_notification
        (local_authority_id, care_setting_id, nhs_number, family_name, given_names, date_of_birth, plan_types,
         first_attended_at, last_attended_at, attendance_count, checked_by_name, checked_by_role, created_at,
         due_at, status, acknowledgement_note)
    SELECT (%(las)s::bigint[])[1 + g %% %(n_las)s], %(setting)s, lpad((9990000000 + g)::text, 10, '0'), 'Bench',
           'Child', date '2018-01-01', 'CPP', %(at)s, %(at)s, 1, 'Bench Clinician', 'clinician', %(at)s,
           %(at)s + interval '1 day', 'new', ''
    FROM generate_series(1, %(count)s) AS g
    RETURNING id
)
INSERT INTO notifications_delivery (notification_id, channel, status, attempts, next_attempt_at, last_error, created_at)
SELECT id, %(channel)s, 'pending', 0, %(at)s, '', %(at)s FROM made
RETURNING id
"""


def _pending(db: dict, channel: str, count: int, at) -> list[int]:
    from accounts.models import Organisation

    las = list(Organisation.objects.filter(ods_code__startswith="BDL").values_list("pk", flat=True))
    setting = Organisation.objects.get(ods_code="BDC001").pk
    with psycopg.connect(conninfo(db, DATABASE), autocommit=True) as conn:
        conn.execute("TRUNCATE notifications_notification CASCADE")
        rows = conn.execute(
            _PENDING_SQL,
            {"las": las, "n_las": len(las), "setting": setting, "at": at, "count": count, "channel": channel},
        ).fetchall()
        conn.execute("ANALYZE notifications_delivery")
    return [r[0] for r in rows]


def _sent(db: dict) -> int:
    with psycopg.connect(conninfo(db, DATABASE), autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM notifications_delivery WHERE status = 'sent'").fetchone()[0]


def _wait_sent(db: dict, count: int, limit: float, began: float) -> float | None:
    while time.monotonic() - began < limit:
        if _sent(db) >= count:
            return time.monotonic() - began
        time.sleep(0.2)
    return None


def _noop_rate(client: redis.Redis) -> float:
    client.delete(_NOOP_KEY)
    began = time.monotonic()
    for _ in range(COUNT):
        bench_delivery_noop.delay()
    while int(client.get(_NOOP_KEY) or 0) < COUNT:
        if time.monotonic() - began > 600:
            raise RuntimeError("the no-op tasks did not all run within 600 s")
        time.sleep(0.05)
    return COUNT / (time.monotonic() - began)


def _delivery_rate(db: dict, channel: str) -> float:
    from notifications.services import delivery_dispatch

    ids = _pending(db, channel, COUNT, timezone.now())
    began = time.monotonic()
    delivery_dispatch(delivery_ids=ids)
    elapsed = _wait_sent(db, COUNT, 600, began)
    if elapsed is None:
        raise RuntimeError(f"{channel}: not every delivery was sent within 600 s")
    return COUNT / elapsed


def _throughput(db: dict, broker_url: str) -> None:
    client = redis.Redis.from_url(broker_url)
    print(f"{'workers':<8} {'no-op tasks/s':>14} {'inbox/s':>8} {'webhook/s':>10}   load avg")
    for count in (1, 4):
        workers = _start_workers(count, db, broker_url)
        try:
            noop = _noop_rate(client)
            inbox = _delivery_rate(db, "inbox")
            webhook = _delivery_rate(db, "webhook")
        finally:
            _stop_workers(workers)
        print(f"{count:<8} {noop:14.1f} {inbox:8.1f} {webhook:10.1f}   {_loadavg()}", flush=True)


def _drain(db: dict, broker_url: str) -> None:
    from notifications.tasks import deliveries_sweep

    interval = settings.NOTIFICATION_SWEEP_INTERVAL
    outage_began = timezone.now() - timedelta(minutes=30)
    _pending(db, "inbox", BACKLOG, outage_began)
    workers = _start_workers(4, db, broker_url)
    try:
        began = time.monotonic()
        next_sweep = began
        sweeps = 0
        print(f"backlog of {BACKLOG:,} inbox deliveries; 4 workers; a sweep every {interval} s, as beat runs it")
        while True:
            now = time.monotonic()
            if now >= next_sweep:
                deliveries_sweep.apply_async(expires=float(interval))
                sweeps += 1
                next_sweep += interval
            sent = _sent(db)
            if sent >= BACKLOG:
                elapsed = time.monotonic() - began
                print(
                    f"drained {BACKLOG:,} in {elapsed:.0f} s ({BACKLOG / elapsed:.0f} deliveries/s, {sweeps} sweeps)"
                    f"   load avg {_loadavg()}"
                )
                return
            if now - began > DRAIN_LIMIT:
                print(
                    f"NOT drained: {sent:,} of {BACKLOG:,} sent after {now - began:.0f} s ({sweeps} sweeps, "
                    f"{sent / (now - began):.0f} deliveries/s)   load avg {_loadavg()}"
                )
                return
            time.sleep(1)
    finally:
        _stop_workers(workers)


def run() -> None:
    from cpis.celery import app
    from notifications.models import WebhookEndpoint
    from tests.notifications.webhook_receiver import WebhookReceiver

    if "delivery" not in sys.argv[1:] and not os.environ.get("BENCH_DELIVERY"):
        print("skipped (minutes long): run `python -m bench delivery`, or set BENCH_DELIVERY=1")
        return
    broker_url = os.environ.get("BENCH_DELIVERY_BROKER_URL", settings.CELERY_BROKER_URL)
    if not broker_url.startswith("redis://"):
        print("skipped: needs CELERY_BROKER_URL (or BENCH_DELIVERY_BROKER_URL) pointing at Redis")
        return
    os.environ["BENCH_REDIS_URL"] = broker_url
    app.conf.broker_url = broker_url
    app.conf.task_always_eager = False
    database_ensure(connections["default"].settings_dict, DATABASE)
    conn = connections["default"]
    conn.close()
    original = conn.settings_dict["NAME"]
    conn.settings_dict["NAME"] = DATABASE
    receiver = WebhookReceiver(secret=_WEBHOOK_SECRET).start()
    try:
        call_command("migrate", verbosity=0)
        db = conn.settings_dict
        las, _ = _organisations()
        for la in las:
            WebhookEndpoint.objects.update_or_create(
                local_authority=la, defaults={"url": receiver.url, "secret": _WEBHOOK_SECRET, "is_active": True}
            )
        redis.Redis.from_url(broker_url).flushdb()
        _throughput(db, broker_url)
        _drain(db, broker_url)
        with psycopg.connect(conninfo(db, DATABASE), autocommit=True) as pg:
            pg.execute("TRUNCATE notifications_notification CASCADE")
    finally:
        receiver.stop()
        conn.close()
        conn.settings_dict["NAME"] = original
        redis.Redis.from_url(broker_url).flushdb()
