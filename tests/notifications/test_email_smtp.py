"""E-mail through a real SMTP server (aiosmtpd), with Django's SMTP backend: what the LA's
team mailbox is sent must be accepted by a standard server."""

import email
import re

import pytest
from django.db import connection

from notifications.models import Channel, Delivery, DeliveryStatus, Notification
from notifications.services import delivery_attempt
from tests.notifications.checks import child_on_plan, record_check
from tests.notifications.mail_servers import SmtpSink

pytestmark = pytest.mark.django_db

# RFC 5321 4.5.3.1.6 and RFC 5322 2.1.1: at most 998 characters a line, CRLF excluded.
SMTP_LINE_LIMIT = 998


@pytest.fixture
def smtp_sink(settings):
    sink = SmtpSink().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield sink
    sink.stop()


def _batch_of_email_deliveries(la, setting, count: int) -> list[Delivery]:
    """`count` due e-mail deliveries of one LA, with ids of six digits (a service that has run
    for a while): one real check, its notification copied for the rest."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT setval(pg_get_serial_sequence('notifications_delivery', 'id'), 100000)")
    record_check(plans=[child_on_plan(la)], care_setting=setting)
    checked = Notification.objects.get()
    fields = {f.attname: getattr(checked, f.attname) for f in Notification._meta.concrete_fields if not f.primary_key}
    copies = [Notification(**fields) for _ in range(count - 1)]
    Delivery.objects.bulk_create(
        Delivery(notification=n, channel=Channel.EMAIL) for n in Notification.objects.bulk_create(copies)
    )
    return list(Delivery.objects.filter(channel=Channel.EMAIL).order_by("id"))


def test_a_batch_of_200_email_deliveries_is_accepted_by_a_standard_smtp_server(la, setting, smtp_sink):
    deliveries = _batch_of_email_deliveries(la, setting, 200)
    assert min(d.pk for d in deliveries) > 100000

    delivery_attempt(delivery_id=deliveries[0].pk)

    assert not Delivery.objects.filter(channel=Channel.EMAIL).exclude(status=DeliveryStatus.SENT).exists(), (
        Delivery.objects.filter(channel=Channel.EMAIL).values_list("last_error", flat=True).first()
    )
    (raw,) = smtp_sink.messages
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    longest = max(len(line) for line in header_block.split(b"\r\n"))
    assert longest <= SMTP_LINE_LIMIT, longest
    message = email.message_from_bytes(raw)
    named = {int(i) for i in re.sub(r"\s", "", message["X-CPIS-Deliveries"]).split(",")}
    assert named == {d.pk for d in deliveries}
    assert message["To"] == la.team_mailbox


def test_every_line_of_an_email_we_send_fits_smtp(la, setting, smtp_sink):
    """Any message: a one-delivery e-mail too (the header block and the body)."""
    (delivery,) = _batch_of_email_deliveries(la, setting, 1)
    delivery_attempt(delivery_id=delivery.pk)
    (raw,) = smtp_sink.messages
    assert max(len(line) for line in raw.split(b"\r\n")) <= SMTP_LINE_LIMIT
