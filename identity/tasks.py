"""Celery tasks: thin, calling a service (identity/uploads.py, identity/reverification.py).

Each task keeps the name it was first registered under (`name=`), so messages already queued
and beat's schedule still find it after the functions took the project's naming.
"""

from celery import shared_task

from identity import reverification, uploads


@shared_task(ignore_result=True, name="identity.tasks.held_uploads_retry_task")
def held_uploads_retry() -> None:
    uploads.held_uploads_retry()


@shared_task(ignore_result=True, name="identity.tasks.identities_reverify_task")
def identities_reverify() -> None:
    reverification.identities_reverify()
