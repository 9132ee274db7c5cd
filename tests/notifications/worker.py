"""Real processes for the fault tests: a Redis server of our own, Celery workers, and the
reconciliation every fault test ends with."""

import email
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import kombu.pools
import redis
from django.conf import settings
from django.db import connection

from attendances.models import Visit
from notifications.models import Channel, Delivery, DeliveryStatus, Notification

ROOT = Path(settings.BASE_DIR)
# Our share of the machine's Redis (other helpers use other database numbers); overridable so
# runs side by side on one Redis (two clones, two engineers) do not eat each other's messages.
SHARED_BROKER_URL = os.environ.get("WORKER_TEST_BROKER_URL", "redis://127.0.0.1:6379/8")
SHARED_CACHE_URL = os.environ.get("WORKER_TEST_CACHE_URL", "redis://127.0.0.1:6379/9")
# Deadlines are for a loaded 2-core CI machine (worker start-up alone can take 20 s there);
# a slower machine can stretch them all. A passing wait ends as soon as its condition holds.
TIMEOUT_FACTOR = float(os.environ.get("TEST_TIMEOUT_FACTOR", "1"))

# Short enough for a test to watch the sweeper and retries work, long enough to be realistic.
FAST_DELIVERY_ENV = {
    "NOTIFICATION_SWEEP_INTERVAL": "1",
    "NOTIFICATION_SWEEP_AFTER": "2",
    "NOTIFICATION_CLAIM_LEASE": "8",
    "NOTIFICATION_RETRY_BASE_SECONDS": "1",
    "NOTIFICATION_RETRY_MAX_SECONDS": "2",
    "NOTIFICATION_DELIVERY_MAX_ATTEMPTS": "30",
    "NOTIFICATION_WEBHOOK_TIMEOUT": "5",
    # A beat started again after a SIGKILL takes over its dead self's lock within seconds.
    "REDBEAT_LOCK_TIMEOUT": "5",
    "CELERY_BEAT_MAX_LOOP_INTERVAL": "1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.2, what: str = "") -> None:
    timeout *= TIMEOUT_FACTOR
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or predicate}")
        time.sleep(interval)


class RedisServer:
    """A redis-server of our own on a free port, so a test can stop it without touching the
    machine's shared Redis."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/8"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        wait_until(lambda: _pings(client), timeout=30, what="redis-server to answer")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            # A test may have frozen it (SIGSTOP): a stopped process acts on SIGTERM only once continued.
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.terminate()
            self.process.wait(timeout=10)


def _pings(client) -> bool:
    try:
        return client.ping()
    except redis.exceptions.ConnectionError:
        return False


class CeleryProcess:
    """A `celery -A cpis ...` process in its own process group, so SIGKILL takes the whole of it
    down at once, as a crash or OOM kill would; its output goes to `<workdir>/<name>.log`."""

    kind = "celery"
    started_marker = ""

    def __init__(self, *, name: str, workdir: Path, env: dict[str, str]):
        self.name = name
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.env = env
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, *, timeout: float = 120) -> None:
        log = open(self.log_path, "a")  # noqa: SIM115 - the child keeps it open
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "cpis", *self.command()],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self._started, timeout=timeout, what=f"{self.kind} {self.name} started")

    def _started(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"{self.kind} {self.name} exited with {self.process.returncode}:\n{self.log()[-4000:]}"
            )
        return self.started_marker in self.log()

    def kill(self) -> None:
        """SIGKILL to every process of it: no clean-up, no acknowledgement, no requeue."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


class Worker(CeleryProcess):
    """`celery -A cpis worker` (optionally with beat) on the test database."""

    kind = "worker"
    started_marker = "ready."

    def __init__(
        self,
        *,
        name: str,
        broker_url: str,
        workdir: Path,
        mail_dir: Path,
        beat: bool = True,
        env=None,
        queues: str = "",
        concurrency: int = 1,
    ):
        super().__init__(
            name=name,
            workdir=workdir,
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "DJANGO_SETTINGS_MODULE": "tests.notifications.worker_settings",
                # pytest-django's test database, where the test's committed rows are.
                "DATABASE_URL": subprocess_database_url(),
                "CELERY_BROKER_URL": broker_url,
                "REDIS_URL": SHARED_CACHE_URL,
                "EMAIL_FILE_PATH": str(mail_dir),
                **FAST_DELIVERY_ENV,
                **(env or {}),
            },
        )
        self.beat = beat
        # Empty: every queue the settings declare (CELERY_TASK_QUEUES), as `make run` does.
        self.queues = queues
        self.concurrency = concurrency
        self.starts = 0

    def command(self) -> list[str]:
        self.starts += 1
        command = [
            "worker",
            "--pool=prefork",
            f"--concurrency={self.concurrency}",
            f"--hostname={self.name}-{self.starts}@%h",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ]
        if self.queues:
            command += ["--queues", self.queues]
        if self.beat:
            command += ["--beat", f"--schedule={self.workdir / (self.name + '-beat')}"]
        return command

    def tasks_succeeded(self) -> int:
        return len(re.findall(r"Task notifications\.tasks\.delivery_send\[[^\]]+\] succeeded", self.log()))


def subprocess_database_url() -> str:
    """DATABASE_URL for a process the test starts: pytest-django's test database (the test
    must use the `db` or `transactional_db` fixture), never the configured one, which a fresh
    machine need not have."""
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def broker(url: str):
    """Points this process's Celery app at a real broker (the test settings run tasks eagerly).

    Celery reads CELERY_BROKER_URL from the environment before its own configuration, so in a
    run isolated through that variable, setting `broker_url` alone would leave this process
    publishing to the run's broker while the test's worker listens on `url`: nothing but the
    sweeper would ever deliver, and a test of the fast path would time out.

    On leaving, it restores the app's eager setting as it found it: enter it before overriding
    `settings.CELERY_TASK_ALWAYS_EAGER`, which Celery may read as it loads its configuration.
    """
    from cpis.celery import app

    saved = (app.conf.task_always_eager, app.conf.broker_url)
    saved_environ = os.environ.get("CELERY_BROKER_URL")

    def reset_pools():
        # Connections and producers are pooled per broker URL, in the app and in kombu.
        if app._pool is not None:
            app._pool.force_close_all()
        app._pool = None
        app.amqp._producer_pool = None
        kombu.pools.reset()

    app.conf.task_always_eager = False
    app.conf.broker_url = os.environ["CELERY_BROKER_URL"] = url
    reset_pools()
    try:
        yield app
    finally:
        app.conf.task_always_eager, app.conf.broker_url = saved
        if saved_environ is None:
            del os.environ["CELERY_BROKER_URL"]
        else:
            os.environ["CELERY_BROKER_URL"] = saved_environ
        reset_pools()


def flush_broker(url: str) -> None:
    """Old messages from an earlier run (a killed worker's unacknowledged ones come back after
    the visibility timeout) would otherwise arrive in this test."""
    redis.Redis.from_url(url).flushdb()


def all_delivered() -> bool:
    return not Delivery.objects.exclude(status=DeliveryStatus.SENT).exists()


def emailed_delivery_ids(mail_dir: Path) -> Counter:
    """Delivery ids named in the e-mails the workers wrote (the file backend separates
    messages with a line of 79 dashes), counting repeats."""
    ids = Counter()
    for path in mail_dir.glob("*"):
        for chunk in path.read_text().split("-" * 79):
            if chunk.strip():
                header = email.message_from_string(chunk.lstrip("\n")).get("X-CPIS-Deliveries", "")
                ids.update(int(i) for i in re.sub(r"\s", "", header).split(",") if i)
    return ids


def assert_reconciled(*, visits: list[Visit], mail_dir: Path, receiver=None, webhook_repeats_allowed=False) -> None:
    """Every notification delivered exactly once per channel, reconciled against the visits.

    1. one notification per visit's attendance episode (each check here is a different child),
       and every visit counted in one;
    2. one delivery row per channel per notification, each SENT; the inbox shows each;
    3. each e-mail delivery named in exactly one e-mail;
    4. each webhook delivery accepted by the receiver: exactly once, or (after a SIGKILL
       between the receiver's answer and our record of it) repeated under the same delivery
       id, which the receiver uses to drop the repeat.
    """
    assert Visit.objects.count() == len(visits)
    notifications = list(Notification.objects.all())
    episodes = {(v.nhs_number, v.care_setting_id) for v in visits}
    assert {(n.nhs_number, n.care_setting_id) for n in notifications} == episodes
    assert len(notifications) == len(episodes)
    assert sum(n.attendance_count for n in notifications) == len(visits)
    assert all(n.delivered_to_inbox_at is not None for n in notifications)

    deliveries = list(Delivery.objects.all())
    by_channel = Counter((d.notification_id, d.channel) for d in deliveries)
    assert set(by_channel.values()) == {1}
    channels = {Channel.INBOX, Channel.EMAIL} | ({Channel.WEBHOOK} if receiver else set())
    assert {c for _, c in by_channel} == channels
    assert len(deliveries) == len(notifications) * len(channels)
    assert {d.status for d in deliveries} == {DeliveryStatus.SENT}

    emailed = emailed_delivery_ids(mail_dir)
    email_ids = {d.pk for d in deliveries if d.channel == Channel.EMAIL}
    assert set(emailed) == email_ids
    assert set(emailed.values()) == {1}, f"e-mailed more than once: {[i for i, c in emailed.items() if c > 1]}"

    if receiver is not None:
        webhook_ids = {str(d.pk) for d in deliveries if d.channel == Channel.WEBHOOK}
        accepted = Counter(receiver.accepted_ids())
        assert set(accepted) == webhook_ids
        if not webhook_repeats_allowed:
            assert set(accepted.values()) == {1}, f"webhook repeated: {accepted}"
