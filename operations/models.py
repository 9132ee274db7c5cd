"""What operators need that no other app records."""

from django.db import models


class PeriodicTaskRun(models.Model):
    """The last successful run of each beat task (by task name), for the service-health page,
    `/metrics` and alerts: a job that silently stopped running shows up here."""

    task = models.CharField(max_length=200, unique=True)
    last_success_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.task} at {self.last_success_at:%Y-%m-%d %H:%M}"


class WorkerPresence(models.Model):
    """Each Celery worker's own heartbeat, by its node name (`inbox@host-a`): the queue
    heartbeats say a queue is served, these say by whom, so a lost host's workers show as gone
    on the service-health page while the survivors keep its queues served."""

    hostname = models.CharField(max_length=200, unique=True)
    queues = models.CharField(max_length=500, blank=True)
    last_seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.hostname} at {self.last_seen_at:%Y-%m-%d %H:%M:%S}"
