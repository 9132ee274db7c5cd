"""Beat tasks of the reports: thin interfaces over reports/rollup.py and reports/progress.py."""

from celery import shared_task

from reports import progress, rollup


@shared_task
def report_days_roll_up() -> int:
    return len(rollup.days_roll_up())


@shared_task
def go_live_refresh() -> int:
    return progress.go_live_refresh()
