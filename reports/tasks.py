"""Beat tasks of the reports: thin interfaces over reports/rollup.py."""

from celery import shared_task

from reports import rollup


@shared_task
def report_days_roll_up() -> int:
    return len(rollup.days_roll_up())
