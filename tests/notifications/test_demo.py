import io

import pytest
from django.core.management import call_command

from demo.notifications import seed_notifications_demo
from notifications.models import Delivery, DeliveryStatus, Notification, NotificationStatus


@pytest.mark.django_db
def test_demo_notifications_cover_each_state_and_are_made_once(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())  # which calls seed_notifications_demo
    assert seed_notifications_demo() == 0

    # Northshire's demo inbox: one in each state (the demo's other visits notify LAs as usual).
    notifications = Notification.objects.filter(local_authority__ods_code="LA001").exclude(
        nhs_number__in=_checked_by_demo()
    )
    assert notifications.count() == 4
    assert notifications.filter(status=NotificationStatus.ACKNOWLEDGED).exclude(acknowledgement_note="").count() == 1
    assert notifications.filter(overdue_since__isnull=False, status=NotificationStatus.NEW).count() == 1
    assert notifications.filter(assigned_to__isnull=False, status=NotificationStatus.NEW).count() == 1
    assert notifications.filter(attendance_count=2).count() == 1
    assert not notifications.filter(delivered_to_inbox_at__isnull=True).exists()
    assert set(Delivery.objects.filter(notification__in=notifications).values_list("status", flat=True)) == {
        DeliveryStatus.SENT
    }


def _checked_by_demo():
    from audit.models import AuditEvent

    return AuditEvent.objects.filter(trace_id="seed_demo").values("nhs_number")
