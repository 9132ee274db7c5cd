"""The inbox puts urgent work first: overdue notifications, then the oldest; after an
acknowledgement it offers the next one; the filters fold away until one is used."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from notifications.models import Notification
from tests.factories import user_with_role
from tests.notifications.checks import inbox_notification

pytestmark = pytest.mark.django_db

INBOX = reverse("notifications:inbox")


@pytest.fixture
def sw_client(client_for, la):
    return client_for(user_with_role(Role.SOCIAL_WORKER, la))


def _order(body: str) -> list[int]:
    return [int(n) for n in re.findall(r"/inbox/(\d+)/", body)]


@pytest.fixture
def waiting(la, setting):
    now = timezone.now()
    newest = inbox_notification(la, setting, arrived_at=now - timedelta(minutes=10))
    oldest = inbox_notification(la, setting, arrived_at=now - timedelta(hours=5))
    middle = inbox_notification(la, setting, arrived_at=now - timedelta(hours=2))
    overdue = inbox_notification(la, setting, arrived_at=now - timedelta(hours=1))
    Notification.objects.filter(pk=overdue.pk).update(overdue_since=now - timedelta(minutes=5))
    return {"newest": newest, "oldest": oldest, "middle": middle, "overdue": overdue}


def test_the_inbox_lists_overdue_first_then_the_oldest(sw_client, waiting):
    body = sw_client.get(INBOX).content.decode()
    w = waiting
    assert _order(body) == [w["overdue"].pk, w["oldest"].pk, w["middle"].pk, w["newest"].pk]


def test_after_acknowledging_the_next_most_urgent_notification_is_offered(sw_client, waiting):
    acknowledge = reverse("notifications:notification_acknowledge", args=[waiting["overdue"].pk])
    response = sw_client.post(acknowledge, {"note": "Called the ED."}, follow=True)
    body = response.content.decode()
    link = re.search(r'<a class="nhsuk-button" data-testid="next-notification" href="([^"]+)"', body)
    assert link and link.group(1) == f"/inbox/{waiting['oldest'].pk}/"


def test_the_last_acknowledgement_says_nothing_else_is_waiting(sw_client, la, setting):
    only = inbox_notification(la, setting)
    body = sw_client.post(
        reverse("notifications:notification_acknowledge", args=[only.pk]), {"note": "Done."}, follow=True
    ).content.decode()
    assert 'data-testid="next-notification"' not in body
    assert "No other notification is waiting" in body


def test_the_filters_fold_away_until_one_is_set(sw_client, waiting):
    folded = sw_client.get(INBOX).content.decode()
    assert re.search(r'<details class="nhsuk-details cpis-filters" data-testid="inbox-filters">', folded)
    opened = sw_client.get(INBOX, {"status": "new", "assigned": "me"}).content.decode()
    assert re.search(r'<details class="nhsuk-details cpis-filters" data-testid="inbox-filters" open>', opened)


def test_the_setting_telephone_never_wraps_mid_number(sw_client, waiting):
    body = sw_client.get(reverse("notifications:notification_detail", args=[waiting["oldest"].pk])).content.decode()
    assert f'<span class="cpis-nowrap">{waiting["oldest"].care_setting.phone}</span>' in body
