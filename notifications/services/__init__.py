"""Notifications to the local authority: one per attendance episode per LA, and their delivery.

The outbox: `notification_record_attendance` writes a `Delivery` row per channel in the check's
own transaction and asks, on commit, for the worker to send them. Everything after that is
at-least-once and idempotent: a delivery is claimed by one worker with a conditional UPDATE,
finished only by the claim that holds it, retried with back-off, and re-dispatched by the
sweeper if a message was never published (Redis down) or its worker died.

The package, by step:
- `outbox.py`: a check's notifications and their outbox rows (the one choice of channels);
- `inactive.py`: Inactive NHS Number notifications, raised for identity's re-verification;
- `fan_out.py`: publishing the rows to the worker, a task per delivery on its channel's queue;
- `delivery.py`: one attempt at one delivery (claim, send, finish), and an admin's re-drive;
- `channels.py`: one class per delivery channel (inbox, e-mail, webhook), found by a registry;
- `sweeper.py`: re-dispatching what was never published or whose worker died;
- `acknowledgement.py`: assigning and acknowledging a notification in the LA's inbox;
- `overdue.py`: marking unacknowledged notifications overdue and reminding the LA's admins;
- `receipts.py`: GOV.UK Notify's delivery receipts for the e-mail channel.
Callers import from `notifications.services`, which re-exports each step's public names.
"""

from notifications.services.acknowledgement import notification_acknowledge, notification_assign, social_workers_of
from notifications.services.channels import DeliveryChannel, delivery_channel, webhook_payload
from notifications.services.delivery import delivery_attempt, delivery_retry
from notifications.services.fan_out import deliveries_hand_over, delivery_dispatch, delivery_queue
from notifications.services.inactive import notification_record_inactive_nhs_number
from notifications.services.outbox import (
    AttendanceStatement,
    notification_attendance_statement,
    notification_record_attendance,
    notifications_flag_birth_date_mismatch,
)
from notifications.services.overdue import notifications_mark_overdue
from notifications.services.receipts import ReceiptRefused, email_receipt_record
from notifications.services.sweeper import delivery_sweep

__all__ = [
    "AttendanceStatement",
    "DeliveryChannel",
    "ReceiptRefused",
    "deliveries_hand_over",
    "delivery_attempt",
    "delivery_channel",
    "delivery_dispatch",
    "delivery_queue",
    "delivery_retry",
    "delivery_sweep",
    "email_receipt_record",
    "notification_attendance_statement",
    "notification_acknowledge",
    "notification_assign",
    "notification_record_inactive_nhs_number",
    "notification_record_attendance",
    "notifications_flag_birth_date_mismatch",
    "notifications_mark_overdue",
    "social_workers_of",
    "webhook_payload",
]
