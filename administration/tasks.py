"""Beat tasks of access administration: thin interfaces over the services (see CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from administration import safeguards

# Registered under their names from before the app left accounts/, so tasks already queued and
# the beat schedule (CELERY_BEAT_SCHEDULE) still find them.
_NAME = "accounts.administration.tasks."


# An e-mail per reminder (each SMTP step times out after EMAIL_TIMEOUT); training records not
# reached when the time is up are reminded by the next day's run.
@shared_task(name=_NAME + "training_expiry_reminders_send", soft_time_limit=600, time_limit=660)
def training_expiry_reminders_send() -> int:
    return safeguards.training_expiry_reminders_send()


@shared_task(name=_NAME + "unused_accounts_lock")
def unused_accounts_lock() -> int:
    return safeguards.unused_accounts_lock()
