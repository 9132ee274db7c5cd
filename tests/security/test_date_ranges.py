"""Dates out of any sane range are form errors, never 500s (issue 12 finding 8)."""

import pytest
from django.urls import reverse

from accounts.models import Role
from tests.audit.test_viewer import search

pytestmark = pytest.mark.django_db


def test_inbox_date_in_year_9999_is_a_form_error(client_for, role_user):
    response = client_for(role_user(Role.SOCIAL_WORKER)).get(reverse("notifications:inbox"), {"date_to": "31/12/9999"})
    assert response.status_code == 400
    assert "Enter a date between 1900 and 2100" in response.content.decode()


def test_audit_search_to_year_9999_is_refused_and_the_viewer_keeps_working(client_for, role_user):
    client = client_for(role_user(Role.NATIONAL_ADMIN))
    response = search(client, date_to_day="31", date_to_month="12", date_to_year="9999")
    assert response.status_code == 400
    assert client.get(reverse("audit:events")).status_code == 200
    assert client.get(reverse("audit:events_csv")).status_code == 200


def test_a_bad_search_url_does_not_break_the_viewer(client_for, role_user):
    client = client_for(role_user(Role.NATIONAL_ADMIN))
    query = "?date_from=not-a-date&date_to=9999-12-31"
    response = client.get(reverse("audit:events") + query)
    assert response.status_code == 400 and "Enter a date between 1900 and 2100" in response.content.decode()
    assert client.get(reverse("audit:events_csv") + query).status_code == 200
