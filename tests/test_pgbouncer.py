"""Through a real PgBouncer in transaction pooling mode (issue 31 item 2): the check, an upload,
the audit export and the rejected-rows download, with this process's database connection going
through the pooler, which discards every session after every transaction (tests/postgres_servers.py):
whatever the service left on a server connection past its transaction breaks the next statement.
"""

import csv
import io
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from accounts.models import Role
from audit.models import AuditAction, AuditEvent
from notifications.models import Notification
from plans.models import Plan, PlanUpload, UploadStatus
from tests.factories import PlanFactory
from tests.plans.helpers import csv_bytes, row
from tests.postgres_servers import default_database_at, pgbouncer

# The pooler's server connections commit on their own: flushed afterwards.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def through_pgbouncer(transactional_db):
    with pgbouncer() as port, default_database_at(port):
        yield port


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_connection_goes_through_the_pooler_and_never_prepares(through_pgbouncer):
    with connection.cursor() as cursor:
        cursor.execute("SELECT inet_server_port()")
        # The server answering is PostgreSQL's, not the port this process connected to.
        assert cursor.fetchone()[0] != through_pgbouncer
    assert connection.settings_dict["PORT"] == through_pgbouncer
    # psycopg prepares a statement run five times on a connection unless told not to; the
    # prepared statement would stay on one server connection, and the pooler hands out another.
    assert connection.connection.prepare_threshold is None
    for _ in range(10):
        assert Plan.objects.filter(nhs_number="9000000009").count() == 0


def test_a_check_through_the_pooler_alerts_and_notifies(through_pgbouncer, role_user, client_for, local_authority):
    plan = PlanFactory(organisation=local_authority)
    clinician = client_for(role_user(Role.CLINICIAN))
    response = clinician.post(
        reverse("attendances:check"), {"nhs_number": plan.nhs_number, "check_token": str(uuid.uuid4())}
    )
    assert response.status_code == 200
    assert "CP-IS alert" in response.content.decode()
    assert Notification.objects.filter(local_authority=local_authority).count() == 1


def test_an_upload_through_the_pooler_previews_and_applies(through_pgbouncer, role_user, client_for, local_authority):
    manager = client_for(role_user(Role.PLAN_MANAGER))
    content = csv_bytes([row(1), row(2), row(3, nhs_number="=1+1")])
    response = manager.post("/plans/uploads/", {"file": SimpleUploadedFile("plans.csv", content)})
    upload = PlanUpload.objects.get()
    assert response.status_code == 302
    upload.refresh_from_db()
    assert upload.status == UploadStatus.PREVIEW, upload.file_message
    assert manager.post(f"/plans/uploads/{upload.pk}/confirm/").status_code == 302
    upload.refresh_from_db()
    assert upload.status == UploadStatus.APPLIED, upload.file_message
    assert Plan.objects.filter(organisation=local_authority).count() == 2


def test_the_rejected_rows_download_through_the_pooler(through_pgbouncer, role_user, client_for, local_authority):
    manager = client_for(role_user(Role.PLAN_MANAGER))
    content = csv_bytes([row(1, start_date="tomorrow"), row(2, nhs_number="=1+1"), row(3)])
    manager.post("/plans/uploads/", {"file": SimpleUploadedFile("plans.csv", content)})
    upload = PlanUpload.objects.get()
    response = manager.get(f"/plans/uploads/{upload.pk}/rejected-rows.csv")
    assert response.status_code == 200
    rows = _csv(response)
    assert [r[0] for r in rows[1:]] == ["2", "3"]


def test_the_audit_export_through_the_pooler(through_pgbouncer, role_user, client_for, care_setting):
    admin = role_user(Role.NATIONAL_ADMIN)
    for _ in range(5):
        AuditEvent.objects.create(action=AuditAction.LOGIN, organisation=care_setting)
    response = client_for(admin).get(reverse("audit:events_csv"))
    assert response.status_code == 200
    rows = _csv(response)
    assert rows[0][0] == "occurred_at"
    assert sum(1 for r in rows[1:] if r[5] == AuditAction.LOGIN) >= 5


def test_with_server_side_cursors_off_both_downloads_answer(transactional_db, role_user, client_for, local_authority):
    # DATABASE_DISABLE_SERVER_SIDE_CURSORS=true, for a pooler stricter still: no cursor at all.
    manager = client_for(role_user(Role.PLAN_MANAGER))
    admin = client_for(role_user(Role.NATIONAL_ADMIN))
    with pgbouncer() as port, default_database_at(port, DISABLE_SERVER_SIDE_CURSORS=True):
        content = csv_bytes([row(1, start_date="tomorrow"), row(2)])
        manager.post("/plans/uploads/", {"file": SimpleUploadedFile("plans.csv", content)})
        upload = PlanUpload.objects.get()
        assert [r[0] for r in _csv(manager.get(f"/plans/uploads/{upload.pk}/rejected-rows.csv"))[1:]] == ["2"]
        rows = _csv(admin.get(reverse("audit:events_csv")))
        assert AuditAction.PLAN_UPLOAD_RECEIVED in {r[5] for r in rows[1:]}
