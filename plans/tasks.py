"""Celery tasks: thin, take ids, call a service (plans/uploads.py, plans/services.py)."""

from celery import shared_task

from plans.services import plans_end_at_eighteen, plans_purge
from plans.uploads import (
    plan_upload_analyse,
    plan_upload_apply,
    plan_upload_reports_forget,
    plan_uploads_expire,
    plan_uploads_stale_fail,
)


@shared_task(ignore_result=True)
def plan_upload_analyse_task(upload_id: int) -> None:
    plan_upload_analyse(upload_id=upload_id)


@shared_task(ignore_result=True)
def plan_upload_apply_task(upload_id: int) -> None:
    # Safe to run twice: only a queued upload is applied, under a row lock.
    plan_upload_apply(upload_id=upload_id)


@shared_task(ignore_result=True)
def plans_end_at_eighteen_task() -> None:
    plans_end_at_eighteen()


@shared_task(ignore_result=True)
def plans_purge_task() -> None:
    plans_purge()
    plan_uploads_expire()
    plan_upload_reports_forget()


@shared_task(ignore_result=True)
def plan_uploads_stale_fail_task() -> None:
    plan_uploads_stale_fail()
