"""Real beat processes for the host tests (workers: tests/notifications/worker.py)."""

import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from tests.notifications.worker import ROOT, wait_until

# A standby takes a dead leader's lock within this plus a loop interval (cpis/beat.py).
LOCK_TIMEOUT = 4
LOOP_INTERVAL = 1


class Beat:
    """`celery -A cpis beat`, in its own process group so SIGKILL takes it down at once."""

    def __init__(self, *, name: str, workdir: Path, env: dict[str, str]):
        self.name = name
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "tests.hosts.beat_settings",
            "REDBEAT_LOCK_TIMEOUT": str(LOCK_TIMEOUT),
            "CELERY_BEAT_MAX_LOOP_INTERVAL": str(LOOP_INTERVAL),
            **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "a")  # noqa: SIM115 - the child keeps it open
        command = [sys.executable, "-m", "celery", "-A", "cpis", "beat", "--loglevel=INFO"]
        # Only the file scheduler (one per beat) reads it; the locked one keeps its state in Redis.
        command.append(f"--schedule={self.workdir / (self.name + '-schedule')}")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_until(self._started, timeout=60, what=f"beat {self.name} started")

    def _started(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"beat {self.name} exited with {self.process.returncode}:\n{self.log()[-4000:]}")
        return "beat: Starting..." in self.log()

    def kill(self) -> None:
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

    def events(self, message_start: str) -> list[tuple[datetime, str]]:
        """(time, message) of each of this beat's log lines whose message starts so."""
        found = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                if record["message"].startswith(message_start):
                    found.append((datetime.fromisoformat(record["time"]), record["message"]))
        return found

    def leading(self) -> bool:
        return bool(self.events("beat: leading"))

    def sent(self) -> list[tuple[datetime, str]]:
        """(time, entry name) of each schedule entry this beat published."""
        prefix = "Scheduler: Sending due task "
        return [(at, message.removeprefix(prefix).split(" ")[0]) for at, message in self.events(prefix)]
