"""Celery tasks: thin, calling a service (identity/uploads.py, identity/reverification.py).

Each task keeps the name it was first registered under (`name=`), so messages already queued
and beat's schedule still find it after the functions took the project's naming.
"""

from celery import shared_task

from identity import reverification, uploads


# Database work and a publish per held upload.
@shared_task(ignore_result=True, name="identity.tasks.held_uploads_retry_task", soft_time_limit=120, time_limit=150)
def held_uploads_retry() -> None:
    uploads.held_uploads_retry()


# PDS, batch by batch: each batch is committed as it is answered, so a run stopped by its soft
# limit keeps its work, and the numbers it did not reach come first the next night.
@shared_task(ignore_result=True, name="identity.tasks.identities_reverify_task", soft_time_limit=3000, time_limit=3300)
def identities_reverify() -> None:
    reverification.identities_reverify()
