"""Celery tasks: thin, take ids, call a service (plans/uploads/, plans/services.py).

Each task keeps the name it was first registered under (`name=`), so messages already queued
and beat's schedule still find it after the functions took the project's naming.
"""

from celery import shared_task

from plans import services, uploads


# With identity verification these ask PDS (IDENTITY_LOOKUPS_PER_TASK numbers, about eight
# minutes, then the task queues itself again): well inside the limits, which stop a task whose
# PDS calls hang before the broker's visibility timeout would hand it to a second worker.
@shared_task(ignore_result=True, name="plans.tasks.plan_upload_analyse_task", soft_time_limit=3000, time_limit=3300)
def plan_upload_analyse(upload_id: int) -> None:
    uploads.plan_upload_analyse(upload_id=upload_id)


@shared_task(ignore_result=True, name="plans.tasks.plan_upload_apply_task", soft_time_limit=3000, time_limit=3300)
def plan_upload_apply(upload_id: int) -> None:
    # Safe to run twice: only a queued upload is applied, under a row lock.
    uploads.plan_upload_apply(upload_id=upload_id)


@shared_task(ignore_result=True, name="plans.tasks.plans_end_at_eighteen_task")
def plans_end_at_eighteen() -> None:
    services.plans_end_at_eighteen()


@shared_task(ignore_result=True, name="plans.tasks.plans_purge_task")
def plans_purge() -> None:
    services.plans_purge()
    uploads.plan_uploads_expire()
    uploads.plan_upload_reports_forget()


@shared_task(ignore_result=True, name="plans.tasks.plan_uploads_stale_fail_task")
def plan_uploads_stale_fail() -> None:
    uploads.plan_uploads_stale_fail()
