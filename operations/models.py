"""What operators need that no other app records."""

from django.db import models


class PeriodicTaskRun(models.Model):
    """The last successful run of each beat task (by task name), for the service-health page,
    `/metrics` and alerts: a job that silently stopped running shows up here."""

    task = models.CharField(max_length=200, unique=True)
    last_success_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.task} at {self.last_success_at:%Y-%m-%d %H:%M}"
