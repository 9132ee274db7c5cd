"""MESH: a 100,000-row upload sent by mesh-client as an LA, polled, applied and acknowledged
back to the LA's mailbox, beside `import_plans` (plan_upload_import) on the same file in the same
run (goal: within 1.3×); and notifications delivered by the MESH channel per second beside the
inbox channel, one process each, the same rows.

Starts its own mesh-sandbox (.venv-mesh, `make install`) on a free port.
Run: DATABASE_URL=postgres://root@127.0.0.1:5432/cpis_plans_bench make bench ARGS=mesh
     (or `python -m bench mesh`)
"""

import io
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from django.db import connection
from django.test import override_settings
from django.utils import timezone

from bench.plan_upload import ROWS, _csv, _database_ensure, _load_average, _rows
from demo.mesh.sandbox import PASSWORD, SANDBOX_VENV, Sandbox

SERVICE, LA_MAILBOX = "X26CPIS01", "BENCHMB01"
NOTIFICATIONS = 300


def _mesh_settings(sandbox: Sandbox):
    return override_settings(
        MESH_URL=sandbox.url, MESH_MAILBOX_ID=SERVICE, MESH_PASSWORD=PASSWORD, MESH_SHARED_KEY=sandbox.shared_key,
        PLAN_UPLOAD_MAX_BYTES=50 * 1024 * 1024,
    )  # fmt: skip


def _la_client(sandbox: Sandbox):
    from mesh_client import MeshClient

    return MeshClient(sandbox.url, LA_MAILBOX, PASSWORD, shared_key=sandbox.shared_key.encode())


def _through_mesh(sandbox: Sandbox, content: bytes) -> tuple[float, str]:
    """From the LA's send to its acknowledgement read back from its inbox."""
    from mesh.services import mesh_poll

    started = time.perf_counter()
    with _la_client(sandbox) as la:
        la.send_message(SERVICE, content, workflow_id="CPIS_UPLOAD", filename="bench.csv", local_id="bench")
    result = mesh_poll()
    assert not result.error, result.error
    with _la_client(sandbox) as la:
        ids = la.list_messages()
        import json

        ack = json.loads(la.retrieve_message(ids[0]).read())
        for message_id in ids:
            la.acknowledge_message(message_id)
    return time.perf_counter() - started, ack["file_code"]


def _notifications(la, setting, channel: str) -> list[int]:
    from notifications.models import Delivery, Notification

    now = timezone.now()
    made = Notification.objects.bulk_create(
        Notification(
            local_authority=la,
            care_setting=setting,
            nhs_number=f"{9990000000 + i}",
            family_name="Bench",
            given_names="Child",
            date_of_birth=now.date() - timedelta(days=8 * 365),
            plan_types="CPP",
            first_attended_at=now,
            last_attended_at=now,
            checked_by_name="Bench Clinician",
            checked_by_role="clinician",
            due_at=now + timedelta(days=1),
        )  # fmt: skip
        for i in range(NOTIFICATIONS)
    )
    rows = Delivery.objects.bulk_create(Delivery(notification=n, channel=channel, next_attempt_at=now) for n in made)
    return [d.pk for d in rows]


def _rate(la, setting, channel: str) -> float:
    from notifications.models import Delivery, DeliveryStatus, Notification
    from notifications.services import delivery_attempt

    ids = _notifications(la, setting, channel)
    started = time.perf_counter()
    for pk in ids:
        delivery_attempt(delivery_id=pk)
    elapsed = time.perf_counter() - started
    sent = Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.SENT).count()
    Notification.objects.filter(local_authority=la).delete()
    assert sent == len(ids), f"{channel}: {sent} of {len(ids)} sent"
    return len(ids) / elapsed


def run() -> None:
    if connection.vendor != "postgresql":
        print("skipped: the MESH benchmark needs PostgreSQL (set DATABASE_URL)")
        return
    if not (SANDBOX_VENV / "bin" / "uvicorn").exists():
        print("skipped: mesh-sandbox is not installed (.venv-mesh; run `make install`)")
        return
    _database_ensure()
    from accounts.models import Organisation, OrganisationKind, SettingType
    from mesh.models import MeshInboundMessage, MeshMailbox, MeshOutboundMessage
    from plans.models import Plan, PlanUpload
    from plans.uploads import plan_upload_import

    la, _ = Organisation.objects.get_or_create(
        ods_code="BENCHMESH",
        defaults={"name": "Bench MESH Council", "kind": OrganisationKind.LOCAL_AUTHORITY,
                  "emergency_duty_phone": "0113 496 0999"},
    )  # fmt: skip
    setting, _ = Organisation.objects.get_or_create(
        ods_code="BENCHMCS", defaults={"name": "Bench MESH ED", "kind": OrganisationKind.CARE_SETTING,
                                       "setting_type": SettingType.ED},
    )  # fmt: skip
    MeshMailbox.objects.update_or_create(local_authority=la, defaults={"mailbox_id": LA_MAILBOX})

    def clean() -> None:
        Plan.objects.filter(organisation=la).delete()
        PlanUpload.objects.filter(organisation=la).delete()
        MeshInboundMessage.objects.all().delete()
        MeshOutboundMessage.objects.all().delete()

    clean()
    content = _csv(_rows(timezone.localdate()))
    print(f"file: {ROWS:,} rows, {len(content) / 1024 / 1024:.1f} MB; load average {_load_average()}")
    with tempfile.TemporaryDirectory() as directory:
        sandbox = Sandbox(directory=Path(directory), mailboxes=[SERVICE, LA_MAILBOX])
        sandbox.start()
        try:
            with _mesh_settings(sandbox):
                started = time.perf_counter()
                upload = plan_upload_import(
                    organisation=la, filename="bench.csv", file=io.BytesIO(content), dry_run=False
                )
                direct = time.perf_counter() - started
                print(f"import_plans (plan_upload_import):        {direct:7.2f} s  ({upload.file_code})")
                clean()
                mesh, file_code = _through_mesh(sandbox, content)
                print(f"through MESH (send, poll, apply, ack back): {mesh:7.2f} s  ({file_code})")
                print(f"ratio MESH / import_plans:                {mesh / direct:7.2f}  (goal ≤ 1.3)")
                clean()
                inbox = _rate(la, setting, "inbox")
                by_mesh = _rate(la, setting, "mesh")
                print(f"notifications per second, one process: inbox {inbox:.0f}, MESH {by_mesh:.0f} "
                      f"({NOTIFICATIONS} each; MESH / inbox {by_mesh / inbox:.2f})")  # fmt: skip
        finally:
            sandbox.stop()
            clean()
    print(f"load average at the end: {_load_average()}")
