"""A real Redis primary, a replica and three `redis-server --sentinel` on free local ports,
for the failover tests. Each in its own process group, so the primary can be SIGKILLed."""

import os
import signal
import subprocess
from pathlib import Path

import redis

from tests.notifications.worker import free_port, wait_until

MASTER_NAME = "cpis"


def _pings(port: int) -> bool:
    try:
        return redis.Redis(port=port, socket_connect_timeout=0.2, socket_timeout=0.5).ping()
    except redis.exceptions.RedisError:
        return False


class SentinelCluster:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.redis_ports = [free_port(), free_port()]
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.processes: dict[int, subprocess.Popen] = {}

    def url(self, db: int) -> str:
        """REDIS_URL / CELERY_BROKER_URL naming the three sentinels (kombu's form)."""
        first, *others = self.sentinel_ports
        return ";".join([f"sentinel://127.0.0.1:{first}/{db}", *(f"sentinel://127.0.0.1:{p}" for p in others)])

    def _spawn(self, port: int, *args: str) -> None:
        log = open(self.workdir / f"redis-{port}.log", "a")  # noqa: SIM115 - the child keeps it open
        self.processes[port] = subprocess.Popen(
            ["redis-server", *args], cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start(self) -> None:
        primary, replica = self.redis_ports
        plain = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self._spawn(primary, "--port", str(primary), *plain)
        self._spawn(replica, "--port", str(replica), *plain, "--replicaof", "127.0.0.1", str(primary))
        for port in self.sentinel_ports:
            # A sentinel rewrites its configuration file: one each, in the test's directory.
            config = self.workdir / f"sentinel-{port}.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\n"
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {primary} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
                f"sentinel failover-timeout {MASTER_NAME} 10000\n"
                f"sentinel parallel-syncs {MASTER_NAME} 1\n"
            )
            self._spawn(port, str(config), "--sentinel")
        for port in [*self.redis_ports, *self.sentinel_ports]:
            wait_until(lambda port=port: _pings(port), timeout=30, what=f"redis on {port}")
        wait_until(self._replica_in_sync, timeout=30, what="the replica to sync")
        wait_until(self._sentinels_agree, timeout=30, what="the sentinels to see the replica and each other")

    def _replica_in_sync(self) -> bool:
        info = redis.Redis(port=self.redis_ports[1]).info("replication")
        return info.get("master_link_status") == "up"

    def _sentinels_agree(self) -> bool:
        for port in self.sentinel_ports:
            client = redis.Redis(port=port, decode_responses=True)
            master = client.sentinel_master(MASTER_NAME)
            if int(master["num-other-sentinels"]) < 2 or int(master["num-slaves"]) < 1:
                return False
        return True

    def primary_port(self) -> int:
        host, port = redis.Redis(port=self.sentinel_ports[0]).sentinel_get_master_addr_by_name(MASTER_NAME)
        return int(port)

    def kill_primary(self) -> int:
        """SIGKILL to the primary; returns its port. The sentinels then promote the replica."""
        port = self.primary_port()
        os.killpg(self.processes[port].pid, signal.SIGKILL)
        self.processes[port].wait(timeout=10)
        return port

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
