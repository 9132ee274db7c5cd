"""The poll as deployed: a real Celery worker with beat (the locked scheduler, on a Redis of the
test's own) polls the session's mesh-sandbox every MESH_POLL_INTERVAL, and a file an LA sends
with mesh-client is applied and acknowledged with nobody calling anything."""

import json
import re

import pytest

from mesh.models import InboundStatus, MeshInboundMessage
from notifications.models import Channel, Delivery, DeliveryStatus
from plans.models import Plan, PlanUpload, UploadStatus
from tests.mesh.conftest import LA001, SERVICE
from tests.notifications.checks import child_on_plan, record_check
from tests.notifications.worker import Worker, broker, wait_until
from tests.plans.helpers import csv_bytes, row

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

POLL_INTERVAL = 2


def test_beat_polls_through_a_worker_and_a_file_sent_by_an_la_is_applied_and_acknowledged(
    mesh, local_authority, care_setting, redis_server, tmp_path
):
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    worker = Worker(
        name="mesh", broker_url=redis_server.url, workdir=tmp_path, mail_dir=mail_dir,
        env={
            "MESH_URL": mesh.sandbox.url, "MESH_MAILBOX_ID": SERVICE, "MESH_PASSWORD": "password",
            "MESH_SHARED_KEY": mesh.sandbox.shared_key, "MESH_POLL_INTERVAL": str(POLL_INTERVAL),
            "MESH_POLL_LEASE_SECONDS": "6", "REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/1",
        },
    )  # fmt: skip
    mesh.send(LA001, csv_bytes([row(1), row(2), row(3, nhs_number="12")]), local_id="LA-SEQ-1")
    try:
        worker.start()
        wait_until(lambda: len(mesh.inbox(LA001)) == 2, timeout=120, what="the first file's answers")
        # A second file, once the worker has been polling a while: beat keeps polling.
        mesh.send(LA001, csv_bytes([row(4)]), local_id="LA-SEQ-2")
        wait_until(lambda: len(mesh.inbox(LA001)) == 3, timeout=60, what="the second file's acknowledgement")
        # And the other way: a check of a child on the LA's plan, sent by the same worker on its
        # deliveries-mesh queue, reaches the LA's mailbox.
        with broker(redis_server.url):
            record_check(plans=[child_on_plan(local_authority)], care_setting=care_setting)
        wait_until(lambda: len(mesh.inbox(LA001)) == 4, timeout=60, what="the notification")
    finally:
        worker.stop()

    assert mesh.inbox(SERVICE) == []  # both acknowledged on MESH
    uploads = PlanUpload.objects.order_by("pk")
    assert [(u.status, u.file_code) for u in uploads] == [
        (UploadStatus.APPLIED, "CPF03"),
        (UploadStatus.APPLIED, "CPF02"),
    ]
    assert Plan.objects.filter(organisation=local_authority).count() == 3 + 1  # the files', the checked child's
    inbound = list(MeshInboundMessage.objects.all())
    assert len(inbound) == 2 and all(m.status == InboundStatus.PROCESSED and m.acknowledged_at for m in inbound)
    answers = mesh.inbox(LA001)  # each JSON one checked against its schema
    [delivery] = Delivery.objects.filter(channel=Channel.MESH)
    assert delivery.status == DeliveryStatus.SENT
    assert [m["workflowid"] for m in answers if m["localid"] == str(delivery.pk)] == ["CPIS_NOTIFICATION"]
    acknowledgements = {
        m["localid"]: json.loads(m["body"]) for m in answers if m["localid"].endswith("acknowledgement")
    }
    assert {k: (v["file_code"], v["accepted"]["count"]) for k, v in acknowledgements.items()} == {
        "LA-SEQ-1:acknowledgement": ("CPF03", 2),
        "LA-SEQ-2:acknowledgement": ("CPF02", 1),
    }
    # Beat published the poll, interval after interval, and the worker ran it: no manual call.
    # Two files, one sent after the other was answered, took two polls at least.
    published = worker.log().count("Sending due task mesh-poll (mesh.tasks.mesh_poll)")
    polls = re.findall(r"Task mesh\.tasks\.mesh_poll\[[^\]]+\] succeeded", worker.log())
    assert published >= 2 and len(polls) >= 2, worker.log()[-4000:]
