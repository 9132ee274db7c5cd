"""Celery tasks: thin, taking ids and calling a service (notifications/services.py).

Every task here is safe to run twice (the worker settings give at-least-once delivery).
"""

from celery import shared_task

from notifications import services


@shared_task(ignore_result=True)
def delivery_send(delivery_id: int) -> None:
    retry_in = services.delivery_attempt(delivery_id=delivery_id)
    if retry_in is not None:
        # The fast path for the retry; if this publish is lost, the sweeper finds the row due.
        services.delivery_dispatch(delivery_ids=[delivery_id], countdown=retry_in)


@shared_task(ignore_result=True)
def deliveries_sweep() -> None:
    services.delivery_sweep()


@shared_task(ignore_result=True)
def notifications_mark_overdue() -> None:
    services.notifications_mark_overdue()
