"""Forgotten-password requests (issue 24 items 4 and 5): limited per address typed and per client
address, answered the same whether limited or not and whether or not the account exists, and the
e-mail sent by the worker, never inside the request."""

import base64
import json
import re

import pytest
import redis
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from accounts.models import Role
from accounts.tasks import password_reset_email_send
from audit.models import AuditAction, AuditEvent, AuditOutcome
from tests.notifications.worker import SHARED_BROKER_URL, broker, flush_broker

pytestmark = pytest.mark.django_db

FORGOTTEN = "accounts:password_forgotten"


@pytest.fixture(autouse=True)
def _fresh_limits():
    # The counters live in Redis, which outlives each test's database.
    cache.clear()


def _page(response) -> tuple[int, str]:
    # Each page carries its own CSRF token and CSP nonce; everything else must be the same.
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
    return response.status_code, re.sub(r'nonce="[^"]+"', "", page)


def _ask(client, email: str, capture, address: str = "203.0.113.9"):
    with capture(execute=True):
        return client.post(reverse(FORGOTTEN), {"email": email}, REMOTE_ADDR=address)


def _queued_tasks(url: str) -> list[tuple[str, list]]:
    """(task name, args) of every message waiting in the default queue of the broker at `url`."""
    found = []
    for raw in redis.Redis.from_url(url).lrange("celery", 0, -1):
        message = json.loads(raw)
        args = json.loads(base64.b64decode(message["body"]))[0]
        found.append((message["headers"]["task"], args))
    return found


def test_known_and_unknown_addresses_get_the_same_answer_and_the_worker_sends_the_mail(
    client, role_user, django_capture_on_commit_callbacks
):
    user = role_user(Role.CLINICIAN)
    flush_broker(SHARED_BROKER_URL)
    with broker(SHARED_BROKER_URL):
        known = _ask(client, user.email, django_capture_on_commit_callbacks)
        unknown = _ask(client, "nobody@example.nhs.uk", django_capture_on_commit_callbacks)
        # Nothing was sent by the web process: the same task was queued for both, for nobody
        # when there is no account.
        assert mail.outbox == []
        assert _queued_tasks(SHARED_BROKER_URL) == [
            ("accounts.tasks.password_reset_email_send", [None]),
            ("accounts.tasks.password_reset_email_send", [user.pk]),
        ]
    flush_broker(SHARED_BROKER_URL)
    assert _page(known) == _page(unknown)
    assert known.status_code == 200 and "If there is a CP-IS account for that address" in known.content.decode()
    # What the worker then does with each message.
    password_reset_email_send.apply(args=(None,))
    assert mail.outbox == []
    password_reset_email_send.apply(args=(user.pk,))
    (message,) = mail.outbox
    assert message.to == [user.email] and "/password/reset/" in message.body


def test_a_flood_for_one_address_sends_only_the_limit(client, role_user, settings, django_capture_on_commit_callbacks):
    settings.PASSWORD_RESET_EMAIL_LIMIT = 3
    user = role_user(Role.CLINICIAN)
    pages = {_page(_ask(client, user.email, django_capture_on_commit_callbacks)) for _ in range(13)}
    # Every answer the same page, limited or not.
    assert len(pages) == 1 and next(iter(pages))[0] == 200
    assert len(mail.outbox) == 3
    limited = AuditEvent.objects.filter(action=AuditAction.PASSWORD_RESET_REQUESTED, outcome=AuditOutcome.DENIED)
    assert limited.count() == 10
    assert limited.first().detail == {"subject_user_id": user.pk, "reason": "rate_limited", "limit": "email"}
    # The address typed differently is the same address.
    _ask(client, user.email.upper(), django_capture_on_commit_callbacks, address="192.0.2.1")
    assert len(mail.outbox) == 3
    # Someone else's reset goes out as usual.
    other = role_user(Role.CLINICIAN)
    _ask(client, other.email, django_capture_on_commit_callbacks)
    assert mail.outbox[-1].to == [other.email]


def test_one_client_asking_for_many_addresses_is_limited(
    client, role_user, settings, django_capture_on_commit_callbacks
):
    settings.PASSWORD_RESET_CLIENT_LIMIT = 2
    users = [role_user(Role.CLINICIAN) for _ in range(3)]
    answers = {_page(_ask(client, u.email, django_capture_on_commit_callbacks)) for u in users}
    answers.add(_page(_ask(client, "nobody@example.nhs.uk", django_capture_on_commit_callbacks)))
    assert len(answers) == 1
    assert [m.to for m in mail.outbox] == [[users[0].email], [users[1].email]]
    refused = AuditEvent.objects.filter(outcome=AuditOutcome.DENIED, action=AuditAction.PASSWORD_RESET_REQUESTED)
    assert [e.detail.get("limit") for e in refused] == ["client", "client"]
    # From another address the third person's request goes through.
    _ask(client, users[2].email, django_capture_on_commit_callbacks, address="198.51.100.1")
    assert mail.outbox[-1].to == [users[2].email]


def test_the_limits_let_requests_through_while_redis_is_down(
    client, role_user, settings, django_capture_on_commit_callbacks
):
    settings.PASSWORD_RESET_EMAIL_LIMIT = 1
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    user = role_user(Role.CLINICIAN)
    for _ in range(3):
        assert _ask(client, user.email, django_capture_on_commit_callbacks).status_code == 200
    assert len(mail.outbox) == 3


def test_a_broker_outage_does_not_change_the_answer(client, role_user, django_capture_on_commit_callbacks):
    user = role_user(Role.CLINICIAN)
    with broker("redis://127.0.0.1:1/2"):
        known = _ask(client, user.email, django_capture_on_commit_callbacks)
        unknown = _ask(client, "nobody@example.nhs.uk", django_capture_on_commit_callbacks)
    assert _page(known) == _page(unknown) and known.status_code == 200
    assert mail.outbox == []
