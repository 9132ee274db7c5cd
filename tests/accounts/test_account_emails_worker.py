"""The e-mails about a person's own account leave from a real worker on real Redis, never from
the request (issue 24 items 1 and 5): the web process sends nothing, the worker sends the reset
link to an address with an account and nothing for one without, and tells a passkey's owner."""

import email
import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from tests.accounts.test_passkeys import make_passkey
from tests.factories import user_with_role
from tests.notifications.worker import RedisServer, Worker, broker, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SUCCEEDED = re.compile(r"Task accounts\.tasks\.password_reset_email_send\[[^\]]+\] succeeded")


def _mails(mail_dir) -> list[email.message.Message]:
    found = []
    for path in mail_dir.glob("*"):
        for chunk in path.read_text().split("-" * 79):
            if chunk.strip():
                found.append(email.message_from_string(chunk.lstrip("\n")))
    return found


def test_the_worker_sends_the_reset_link_and_the_request_sends_nothing(tmp_path, care_setting, client_for):
    user = user_with_role(Role.CLINICIAN, care_setting)
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    server = RedisServer(tmp_path)
    server.start()
    worker = Worker(name="main", broker_url=server.url, workdir=tmp_path, mail_dir=mail_dir, beat=False)
    try:
        with broker(server.url):
            worker.start()
            client = Client()
            unknown = client.post(reverse("accounts:password_forgotten"), {"email": "nobody@example.nhs.uk"})
            known = client.post(reverse("accounts:password_forgotten"), {"email": user.email})
            assert known.status_code == unknown.status_code == 200
            # Committed and answered: the web process itself sent nothing.
            assert mail.outbox == []
            wait_until(lambda: _mails(mail_dir), timeout=60, what="the worker's reset e-mail")
            # Both tasks ran (the one for nobody sends nothing): only then count the e-mails.
            wait_until(lambda: len(SUCCEEDED.findall(worker.log())) == 2, timeout=60, what="both reset tasks done")
            (message,) = _mails(mail_dir)
            assert message["To"] == user.email and message["Subject"] == "Reset your CP-IS password"
            assert "/password/reset/" in message.get_payload(decode=True).decode()
            # A passkey removed: its owner hears of it, from the worker too.
            passkey = make_passkey(user)
            removed = client_for(user).post(reverse("accounts:passkey_remove", kwargs={"passkey_id": passkey.pk}))
            assert removed.status_code == 302 and mail.outbox == []
            wait_until(lambda: len(_mails(mail_dir)) == 2, timeout=60, what="the worker's passkey e-mail")
            told = [m for m in _mails(mail_dir) if m["Subject"] == "A passkey was removed from your CP-IS account"]
            assert [m["To"] for m in told] == [user.email]
    finally:
        worker.stop()
        server.stop()
