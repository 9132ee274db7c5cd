"""Proxies are trusted by address, never by count (issue 12 finding 6): a direct connection's
X-Forwarded-For is ignored for the lockout and the audit alike."""

import pytest
from django.conf import settings
from django.test import Client, RequestFactory

from audit.models import AuditAction, AuditEvent
from audit.services import client_ip
from tests.accounts.test_login import password_step

pytestmark = pytest.mark.django_db

PROXIES = ["127.0.0.1/32", "10.0.0.0/8"]


@pytest.fixture
def proxies(settings):
    settings.TRUSTED_PROXIES = PROXIES
    # As .env.example used to set it: an old .env that still says so must change nothing.
    settings.TRUSTED_PROXY_COUNT = 1


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        # Straight to gunicorn, bypassing the proxy: the header is the client's own invention.
        ("203.0.113.9", "10.1.2.3", "203.0.113.9"),
        ("203.0.113.9", "", "203.0.113.9"),
        # Through our proxy: the right-most address that is not ours.
        ("10.0.0.5", "198.51.100.20", "198.51.100.20"),
        ("10.0.0.5", "6.6.6.6, 198.51.100.20", "198.51.100.20"),
        # Two of our proxies in a row.
        ("127.0.0.1", "198.51.100.20, 10.0.0.7", "198.51.100.20"),
        # Garbage appended after our proxy: the last hop we trust.
        ("10.0.0.5", "198.51.100.20, not-an-address", "10.0.0.5"),
        ("::1", "198.51.100.20", "::1"),
    ],
)
def test_client_address(proxies, remote, forwarded, expected):
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_direct_connection_cannot_dodge_the_lockout_with_forwarded_for(proxies, role_user):
    user = role_user("clinician")
    for n in range(settings.AXES_FAILURE_LIMIT):
        password_step(
            Client(),
            user,
            password="wrong-guess-123",
            REMOTE_ADDR="203.0.113.9",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        )
    response = password_step(Client(), user, REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="198.51.100.99")
    assert response.status_code == 429


def test_direct_connection_cannot_lock_a_victim_out_at_a_chosen_address(proxies, role_user):
    victim = role_user("clinician")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        password_step(
            Client(),
            victim,
            password="wrong-guess-123",
            REMOTE_ADDR="203.0.113.9",
            HTTP_X_FORWARDED_FOR="198.51.100.50",
        )
    # The victim, arriving through our proxy from the address the attacker named, is not locked out.
    response = password_step(Client(), victim, REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="198.51.100.50")
    assert response.status_code == 302


def test_audit_records_the_real_address_of_a_direct_connection(proxies, role_user):
    user = role_user("clinician")
    password_step(Client(), user, password="wrong-guess-123", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED).ip_address == "203.0.113.9"


def test_a_proxy_count_setting_is_gone():
    assert not hasattr(settings, "TRUSTED_PROXY_COUNT")
