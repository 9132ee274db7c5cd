import io

import pytest
from django.core.management import call_command

from notifications.demo import seed_notifications_demo
from notifications.models import Delivery, DeliveryStatus, Notification, NotificationStatus


@pytest.mark.django_db
def test_demo_notifications_cover_each_state_and_are_made_once(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())

    assert seed_notifications_demo() == 4
    assert seed_notifications_demo() == 0

    notifications = Notification.objects.all()
    assert notifications.count() == 4
    assert notifications.filter(status=NotificationStatus.ACKNOWLEDGED).exclude(acknowledgement_note="").count() == 1
    assert notifications.filter(overdue_since__isnull=False, status=NotificationStatus.NEW).count() == 1
    assert notifications.filter(assigned_to__isnull=False, status=NotificationStatus.NEW).count() == 1
    assert notifications.filter(attendance_count=2).count() == 1
    assert not notifications.filter(delivered_to_inbox_at__isnull=True).exists()
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}
