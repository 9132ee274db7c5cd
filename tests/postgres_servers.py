"""Real database servers a test starts for itself: a PgBouncer in front of the test database, and
a PostgreSQL primary with a streaming standby (initdb, pg_basebackup) on free ports.

The machine's PostgreSQL on 5432 is never reconfigured: the pooler only connects to it, and the
primary/standby pair is a cluster of the test's own in a temporary directory. PostgreSQL and
PgBouncer refuse to run as root, so under root they run as the `postgres` system user.
"""

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connections

from tests.notifications.worker import free_port, wait_until


def _bindir() -> Path:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    if not found:
        pytest.skip("PostgreSQL's server programs (initdb) are not installed")
    return Path(found).parent


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _server_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(path, user.pw_uid, user.pw_gid)
    return path


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(_as_server_user(command), check=True, capture_output=True, text=True, timeout=120, **kwargs)


def _accepts(port: int, dbname: str, user: str) -> bool:
    try:
        with psycopg.connect(host="127.0.0.1", port=port, dbname=dbname, user=user, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


@contextlib.contextmanager
def pgbouncer(*, reset_every_transaction: bool = True) -> Iterator[int]:
    """A PgBouncer in transaction pooling mode in front of the test database; yields its port.

    `reset_every_transaction`: DISCARD ALL after every transaction (server_reset_query_always),
    so anything a client leaves on a server connection past its transaction (a WITH HOLD cursor,
    a prepared statement, a SET, a session advisory lock, a temporary table) is gone for its next
    one, deterministically, as it is under load when the next transaction gets another server."""
    program = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(program).exists():
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer)")
    db = settings.DATABASES["default"]
    port = free_port()
    workdir = _server_dir("cpis-pgbouncer-")
    ini = workdir / "pgbouncer.ini"
    ini.write_text(
        f"""[databases]
* = host={db["HOST"] or "127.0.0.1"} port={db["PORT"] or 5432} user={db["USER"]}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = 4
max_client_conn = 100
server_reset_query = DISCARD ALL
server_reset_query_always = {1 if reset_every_transaction else 0}
ignore_startup_parameters = extra_float_digits,options
logfile = {workdir / "pgbouncer.log"}
pidfile = {workdir / "pgbouncer.pid"}
"""
    )
    os.chmod(ini, 0o644)
    process = subprocess.Popen(_as_server_user([program, str(ini)]), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: _accepts(port, db["NAME"], db["USER"]), timeout=20, what="pgbouncer to accept")
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


class StreamingPair:
    """A primary and a hot standby streaming from it, each on a free port, with the test
    database's schema; `pause_replay()` makes the standby lag, `stop_standby()` takes it away."""

    DBNAME = "cpis"
    USER = "postgres"

    def __init__(self):
        self.bindir = _bindir()
        self.root = _server_dir("cpis-replica-")
        self.primary_port = free_port()
        self.standby_port = free_port()
        self.primary_dir = self.root / "primary"
        self.standby_dir = self.root / "standby"
        self._running: list[Path] = []

    def _pg_ctl(self, datadir: Path, *args: str) -> None:
        _run([str(self.bindir / "pg_ctl"), "-D", str(datadir), "-w", "-t", "60", *args])

    def _start(self, datadir: Path, port: int) -> None:
        options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} -c fsync=off"
        self._pg_ctl(datadir, "-o", options, "-l", str(self.root / f"{datadir.name}.log"), "start")
        self._running.append(datadir)

    def start(self) -> "StreamingPair":
        _run([str(self.bindir / "initdb"), "-D", str(self.primary_dir), "-U", self.USER, "--auth=trust", "-E", "UTF8"])
        with open(self.primary_dir / "postgresql.conf", "a") as conf:
            conf.write("wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\ntimezone = 'UTC'\n")
        with open(self.primary_dir / "pg_hba.conf", "a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        self._start(self.primary_dir, self.primary_port)
        with self.connect(self.primary_port, dbname="postgres") as conn:
            conn.autocommit = True
            conn.execute(f"CREATE DATABASE {self.DBNAME}")
        test_db = settings.DATABASES["default"]
        schema = subprocess.run(
            [str(self.bindir / "pg_dump"), "--schema-only", "--no-owner", "--no-privileges",
             "-h", test_db["HOST"] or "127.0.0.1", "-p", str(test_db["PORT"] or 5432), "-U", test_db["USER"],
             test_db["NAME"]],
            check=True, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        _run(
            [str(self.bindir / "psql"), "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.primary_port),
             "-U", self.USER, "-d", self.DBNAME],
            input=schema.stdout,
        )  # fmt: skip
        _run(
            [str(self.bindir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", self.USER,
             "-D", str(self.standby_dir), "-R", "-X", "stream", "-c", "fast"]
        )  # fmt: skip
        self._start(self.standby_dir, self.standby_port)
        return self

    def stop(self) -> None:
        for datadir in reversed(self._running):
            with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
                self._pg_ctl(datadir, "-m", "immediate", "stop")
        self._running.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def connect(self, port: int, *, dbname: str = DBNAME) -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=port, dbname=dbname, user=self.USER, autocommit=True)

    def wait_caught_up(self) -> None:
        with self.connect(self.primary_port) as primary, self.connect(self.standby_port) as standby:
            target = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
            wait_until(
                lambda: standby.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]).fetchone()[0],
                timeout=30,
                what="the standby to replay the primary's writes",
            )

    def pause_replay(self) -> None:
        with self.connect(self.standby_port) as standby:
            standby.execute("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        with self.connect(self.standby_port) as standby:
            standby.execute("SELECT pg_wal_replay_resume()")

    def stop_standby(self) -> None:
        self._pg_ctl(self.standby_dir, "-m", "immediate", "stop")
        self._running.remove(self.standby_dir)


@contextlib.contextmanager
def default_database_at(port: int, **changes) -> Iterator[None]:
    """Points this process's `default` connection at another server for the block (the test
    database's settings otherwise), and back afterwards."""
    db = connections["default"]
    saved = dict(db.settings_dict)
    db.close()
    db.settings_dict.update(HOST="127.0.0.1", PORT=port, **changes)
    try:
        yield
    finally:
        db.close()
        db.settings_dict.clear()
        db.settings_dict.update(saved)
