"""GOV.UK Notify as Django's e-mail backend, beside SMTP (`EMAIL_BACKEND` chooses).

Every e-mail the service sends (the LA's "N new notifications", invitations, password resets)
goes through one generic Notify template whose subject is ((subject)) and whose body is
((body)), so our templates stay the one place the wording lives. An e-mail that carries
outbox deliveries (the `X-CPIS-Deliveries` header) is sent with the reference
`delivery-<first id>`: Notify's delivery receipt names it (receipts.py).
"""

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from notifications_python_client.notifications import NotificationsAPIClient

DELIVERIES_HEADER = "X-CPIS-Deliveries"
REFERENCE_PREFIX = "delivery-"


def delivery_reference(message: EmailMessage) -> str | None:
    """The Notify reference of an e-mail that carries deliveries: its batch's first id."""
    header = message.extra_headers.get(DELIVERIES_HEADER, "")
    first = header.split(",", 1)[0].strip()
    return f"{REFERENCE_PREFIX}{first}" if first.isdigit() else None


class NotifyEmailBackend(BaseEmailBackend):
    """Sends each recipient of each message as one Notify e-mail notification.

    Notify's errors (an HTTPError with its status, or the network's) are raised unless
    `fail_silently`: the outbox then retries the delivery, as it does an SMTP failure."""

    def __init__(self, fail_silently: bool = False, **kwargs: Any) -> None:
        super().__init__(fail_silently=fail_silently, **kwargs)
        if not settings.NOTIFY_API_KEY or not settings.NOTIFY_TEMPLATE_ID:
            raise ImproperlyConfigured("NotifyEmailBackend needs NOTIFY_API_KEY and NOTIFY_TEMPLATE_ID")
        self.client = NotificationsAPIClient(
            settings.NOTIFY_API_KEY, base_url=settings.NOTIFY_BASE_URL, timeout=settings.NOTIFY_TIMEOUT
        )

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        sent = 0
        for message in email_messages:
            try:
                for address in message.recipients():
                    self.client.send_email_notification(
                        email_address=address,
                        template_id=settings.NOTIFY_TEMPLATE_ID,
                        personalisation={"subject": message.subject, "body": message.body},
                        reference=delivery_reference(message),
                    )
            except Exception:
                if not self.fail_silently:
                    raise
                continue
            sent += 1
        return sent
