"""Celery tasks: thin, calling a service (identity/uploads.py, identity/reverification.py)."""

from celery import shared_task

from identity.reverification import identities_reverify
from identity.uploads import held_uploads_retry


@shared_task(ignore_result=True)
def held_uploads_retry_task() -> None:
    held_uploads_retry()


@shared_task(ignore_result=True)
def identities_reverify_task() -> None:
    identities_reverify()
