"""The inbox's remembered renderings (cpis.jinja2.rendered_once): a tag, a filter or a header
rendered for one row, one request or one user never shows up in another."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role, User
from notifications.models import Notification
from tests.conftest import signed_in
from tests.factories import user_with_role
from tests.notifications.checks import inbox_notification

pytestmark = pytest.mark.django_db

INBOX = reverse("notifications:inbox")


def _row(body: str, family_name: str) -> str:
    rows = [row for row in body.split("<tr") if family_name in row]
    assert len(rows) == 1, family_name
    return rows[0]


def _tag(row: str) -> tuple[str, str]:
    found = re.search(
        r'<strong class="nhsuk-tag (nhsuk-tag--\w+)">\s*([^<]*?)\s*</strong>\s*</td>\s*</tr', row + "</tr"
    )
    assert found, row
    return found.group(1), found.group(2)


def _selected(body: str, name: str) -> list[str]:
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', body, re.S)
    assert select
    return re.findall(r'<option value="([^"]*)" selected>', select.group(1))


def _logout_token(body: str) -> str:
    """The CSRF token of the header's log-out form (a remembered rendering)."""
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)">Log out', body)
    assert found
    return found.group(1)


@pytest.fixture
def social_worker(la):
    return user_with_role(Role.SOCIAL_WORKER, la)


def test_each_row_has_the_tag_of_its_own_status(client_for, social_worker, la, setting):
    inbox_notification(la, setting, family_name="Newone")
    late = inbox_notification(la, setting, family_name="Lateone")
    Notification.objects.filter(pk=late.pk).update(overdue_since=timezone.now())
    inbox_notification(la, setting, family_name="Alsonew")
    client = client_for(social_worker)

    body = client.get(INBOX).content.decode()

    assert _tag(_row(body, "Newone")) == ("nhsuk-tag--blue", "New")
    assert _tag(_row(body, "Lateone")) == ("nhsuk-tag--red", "Overdue")
    assert _tag(_row(body, "Alsonew")) == ("nhsuk-tag--blue", "New")
    client.post(reverse("notifications:notification_acknowledge", args=[late.pk]), {"note": "Seen"})
    acknowledged = client.get(INBOX, {"status": "acknowledged"}).content.decode()
    assert _tag(_row(acknowledged, "Lateone")) == ("nhsuk-tag--green", "Acknowledged")


def test_a_chosen_filter_shows_on_its_own_request_only(client_for, social_worker, la, setting):
    inbox_notification(la, setting, family_name="Kidwell")
    client = client_for(social_worker)
    today = timezone.localdate()
    chosen = {
        "plan_type": "CPP",
        "setting": setting.pk,
        "date_from_day": today.day,
        "date_from_month": today.month,
        "date_from_year": today.year,
    }

    plain_before = client.get(INBOX).content.decode()
    filtered = client.get(INBOX, chosen).content.decode()
    plain_after = client.get(INBOX).content.decode()

    assert _selected(filtered, "plan_type") == ["CPP"]
    assert _selected(filtered, "setting") == [str(setting.pk)]
    assert f'name="date_from_year" type="text" value="{today.year}"' in filtered
    for plain in (plain_before, plain_after):
        assert _selected(plain, "plan_type") == [""]
        assert _selected(plain, "setting") == [""]
        assert f'value="{today.year}"' not in plain


def test_each_user_gets_their_own_name_and_csrf_token_in_the_header(la, setting):
    first, second = user_with_role(Role.SOCIAL_WORKER, la), user_with_role(Role.SOCIAL_WORKER, la)
    User.objects.filter(pk=first.pk).update(full_name="Ada Firstperson")
    User.objects.filter(pk=second.pk).update(full_name="Bea Secondperson")
    first_client = signed_in(Client(enforce_csrf_checks=True), first)
    second_client = signed_in(Client(enforce_csrf_checks=True), second)

    first_page = first_client.get(INBOX).content.decode()
    second_page = second_client.get(INBOX).content.decode()

    assert "Ada Firstperson" in first_page and "Secondperson" not in first_page
    assert "Bea Secondperson" in second_page and "Firstperson" not in second_page
    # Each header's token is its own user's: the other user's is refused, their own accepted.
    logout = reverse("accounts:logout")
    assert first_client.post(logout, {"csrfmiddlewaretoken": _logout_token(second_page)}).status_code == 403
    assert first_client.post(logout, {"csrfmiddlewaretoken": _logout_token(first_page)}).status_code == 302
    assert second_client.post(logout, {"csrfmiddlewaretoken": _logout_token(second_page)}).status_code == 302
