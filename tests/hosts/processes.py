"""Real beat processes for the host tests (workers: tests/notifications/worker.py)."""

import json
import os
from datetime import datetime
from pathlib import Path

from tests.notifications.worker import ROOT, CeleryProcess

# A standby takes a dead leader's lock within this plus a loop interval (cpis/beat.py).
LOCK_TIMEOUT = 4
LOOP_INTERVAL = 1


class Beat(CeleryProcess):
    """`celery -A cpis beat` alone, as a host runs it beside its workers."""

    kind = "beat"
    started_marker = "beat: Starting..."

    def __init__(self, *, name: str, workdir: Path, env: dict[str, str]):
        super().__init__(
            name=name,
            workdir=workdir,
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "DJANGO_SETTINGS_MODULE": "tests.hosts.beat_settings",
                "REDBEAT_LOCK_TIMEOUT": str(LOCK_TIMEOUT),
                "CELERY_BEAT_MAX_LOOP_INTERVAL": str(LOOP_INTERVAL),
                **env,
            },
        )

    def command(self) -> list[str]:
        # Only the file scheduler (one per beat) reads it; the locked one keeps its state in Redis.
        return ["beat", "--loglevel=INFO", f"--schedule={self.workdir / (self.name + '-schedule')}"]

    def start(self, *, timeout: float = 60) -> None:
        super().start(timeout=timeout)

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
