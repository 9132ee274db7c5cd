"""Beat tasks of the privacy app: thin interfaces over the services (see CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from privacy import baselines, services


# Expires at the next run (the beat schedule's options): a scan left unfinished is taken up by
# the next one from where the last finished scan got to.
@shared_task(soft_time_limit=240, time_limit=270)
def alerts_scan() -> int:
    return services.alerts_scan()


@shared_task(soft_time_limit=600, time_limit=660)
def open_alerts_email_send() -> int:
    return services.open_alerts_email_send()


# Hourly (the beat schedule): the first run after midnight summarises the day just ended.
@shared_task(soft_time_limit=600, time_limit=660)
def baselines_roll_up() -> bool:
    return baselines.baselines_roll_up() is not None
