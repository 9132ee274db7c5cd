"""Celery tasks: thin, taking ids and calling a service (notifications/services/).

Every task here is safe to run twice (the worker settings give at-least-once delivery).
"""

from celery import shared_task
from django.conf import settings

from notifications import services, webhook_settings


# Stopped before its lease runs out, so a stuck send (an SMTP server that never answers) can
# never still be running when the sweeper hands the delivery to another worker. The soft limit
# raises inside the send, which records the attempt failed and retries it.
@shared_task(
    ignore_result=True,
    soft_time_limit=max(4, int(settings.NOTIFICATION_CLAIM_LEASE * 0.7)),
    time_limit=max(5, int(settings.NOTIFICATION_CLAIM_LEASE * 0.8)),
)
def delivery_send(delivery_id: int) -> None:
    retry_in = services.delivery_attempt(delivery_id=delivery_id)
    if retry_in is not None:
        # The fast path for the retry; if this publish is lost, the sweeper finds the row due.
        services.delivery_dispatch(delivery_ids=[delivery_id], countdown=retry_in)


# Publishes only: each publish gives up within the broker's socket timeout.
@shared_task(ignore_result=True, soft_time_limit=30, time_limit=45)
def deliveries_fan_out(delivery_ids: list[int]) -> None:
    # A check publishes one message for all its deliveries (services.deliveries_hand_over).
    services.delivery_dispatch(delivery_ids=delivery_ids)


# Database work and publishes; beat sends the next one after NOTIFICATION_SWEEP_INTERVAL anyway.
@shared_task(ignore_result=True, soft_time_limit=120, time_limit=150)
def deliveries_sweep() -> None:
    services.delivery_sweep()


# E-mail per LA (each SMTP step times out after EMAIL_TIMEOUT); reminders not sent when the
# time is up wait for the next run.
@shared_task(ignore_result=True, soft_time_limit=300, time_limit=330)
def notifications_mark_overdue() -> None:
    services.notifications_mark_overdue()


# On the webhook queue (CELERY_TASK_ROUTES), so an admin's test of a slow endpoint holds only a
# webhook worker, and killed like a delivery, well before anything could wait on it.
@shared_task(ignore_result=True, time_limit=max(5, int(settings.NOTIFICATION_CLAIM_LEASE * 0.8)))
def webhook_test_send(endpoint_id: int, delivery_id: str) -> None:
    webhook_settings.webhook_test_send(endpoint_id=endpoint_id, delivery_id=delivery_id)
