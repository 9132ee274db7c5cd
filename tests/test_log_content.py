"""The logs of a whole journey, the web process's and a real worker's, hold no child data.

A clinician checks a child in the browser form and another through the FHIR API (with an NHS
number in the query string), a malformed request and an unknown page carry NHS numbers in their
query strings, the worker delivers the notifications (inbox, e-mail, webhook), and the LA's
social worker opens them. Every line is then searched for each child's NHS number (plain and
spaced), names and date of birth (as stored and as shown), and for the query strings.
"""

import io
import json
import logging
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from cpis.logs import ContextFilter, JsonFormatter, RedactFilter
from fhir.services import api_token_issue
from notifications.models import Notification, WebhookEndpoint
from tests.factories import PlanFactory
from tests.notifications.checks import unique_nhs_number
from tests.notifications.conftest import WEBHOOK_SECRET
from tests.notifications.webhook_receiver import WebhookReceiver
from tests.notifications.worker import RedisServer, Worker, all_delivered, broker, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

NHS = "https://fhir.nhs.uk/Id/nhs-number"


@pytest.fixture
def captured_logs():
    """Everything this process logs, through the handler configuration the settings give."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactFilter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    saved_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)  # as in production (LOG_LEVEL)
    yield stream
    root.removeHandler(handler)
    root.setLevel(saved_level)


def _forms(plan) -> list[str]:
    dob = plan.date_of_birth
    spaced = f"{plan.nhs_number[:3]} {plan.nhs_number[3:6]} {plan.nhs_number[6:]}"
    return [
        plan.nhs_number,
        spaced,
        plan.family_name,
        *plan.given_names.split(),
        dob.isoformat(),
        dob.strftime("%d/%m/%Y"),
        f"{dob.day} {dob.strftime('%B %Y')}",
        dob.strftime("%d%m%Y"),
    ]


def test_a_full_journey_logs_no_nhs_number_name_date_of_birth_or_query_string(
    tmp_path, captured_logs, role_user, client_for, care_setting, local_authority
):
    web_child = PlanFactory(
        organisation=local_authority,
        nhs_number=unique_nhs_number(),
        family_name="Quibbleworth",
        given_names="Tallulah Jane",
    )
    api_child = PlanFactory(
        organisation=local_authority,
        nhs_number=unique_nhs_number(),
        family_name="Fennimore",
        given_names="Oswin",
    )
    receiver = WebhookReceiver(secret=WEBHOOK_SECRET).start()
    WebhookEndpoint.objects.create(local_authority=local_authority, url=receiver.url, secret=WEBHOOK_SECRET)
    server = RedisServer(tmp_path)
    server.start()
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    worker = Worker(name="w", broker_url=server.url, workdir=tmp_path, mail_dir=mail_dir)
    clinician = role_user(Role.CLINICIAN)
    _, raw = api_token_issue(user=clinician, organisation=care_setting, name="EPR", valid_days=30)
    try:
        with broker(server.url):
            worker.start()
            web = client_for(clinician)
            checked = web.post(
                reverse("attendances:check"),
                {
                    "nhs_number": web_child.nhs_number,
                    "dob_day": web_child.date_of_birth.day,
                    "dob_month": web_child.date_of_birth.month,
                    "dob_year": web_child.date_of_birth.year,
                    "check_token": str(uuid.uuid4()),
                },
            )
            assert checked.status_code == 200 and "Quibbleworth" in checked.content.decode()
            api = Client()
            auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}", "HTTP_TRACEID": "journey-trace-1"}
            found = api.get("/fhir/R4/CareTeam", {"patient:identifier": f"{NHS}|{api_child.nhs_number}"}, **auth)
            assert found.status_code == 200
            refused = api.get("/fhir/R4/CareTeam", {"patient:identifier": f"{NHS}|{api_child.nhs_number}0"}, **auth)
            assert refused.status_code == 400
            missing = web.get(f"/no-such-page/?nhs_number={web_child.nhs_number}")
            assert missing.status_code == 404

            wait_until(all_delivered, timeout=60, what="every delivery")
            social_worker = client_for(role_user(Role.SOCIAL_WORKER))
            assert social_worker.get(reverse("notifications:inbox")).status_code == 200
            for notification in Notification.objects.all():
                page = social_worker.get(reverse("notifications:notification_detail", args=[notification.pk]))
                assert page.status_code == 200
    finally:
        worker.stop()
        server.stop()
        receiver.stop()

    ours = captured_logs.getvalue()
    theirs = worker.log()
    assert ours and "Task notifications.tasks.delivery_send" in theirs
    lines = [json.loads(line) for line in ours.splitlines() if line.strip()]
    # The 404 was logged, by path, with its request id.
    not_found = [e for e in lines if e["message"].startswith("Not Found: /no-such-page/")]
    assert not_found and not_found[0]["request_id"] and not_found[0]["user_id"] == clinician.pk
    # The worker's lines are JSON too, and its tasks carry the FHIR request's TraceID.
    worker_lines = [json.loads(line) for line in theirs.splitlines() if line.startswith("{")]
    assert any(e.get("trace_id") == "journey-trace-1" and e.get("task") for e in worker_lines), theirs[-3000:]
    for text in (ours, theirs):
        for plan in (web_child, api_child):
            for form in _forms(plan):
                assert form not in text, f"{form!r} was logged"
        assert "patient:identifier" not in text and "nhs_number=" not in text
