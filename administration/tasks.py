"""Beat tasks of access administration: thin interfaces over the services (see CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from accounts.administration import safeguards


@shared_task
def training_expiry_reminders_send() -> int:
    return safeguards.training_expiry_reminders_send()


@shared_task
def unused_accounts_lock() -> int:
    return safeguards.unused_accounts_lock()
