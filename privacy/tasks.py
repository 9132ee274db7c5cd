"""Beat tasks of the privacy app: thin interfaces over the services (see CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from privacy import services


# Expires at the next run (the beat schedule's options): a scan left unfinished is taken up by
# the next one from where the last finished scan got to.
@shared_task(soft_time_limit=240, time_limit=270)
def alerts_scan() -> int:
    return services.alerts_scan()


@shared_task(soft_time_limit=600, time_limit=660)
def open_alerts_email_send() -> int:
    return services.open_alerts_email_send()
