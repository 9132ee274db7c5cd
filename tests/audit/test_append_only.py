import pytest
from django.db import DatabaseError, connection, transaction

from audit.models import AuditAction, AuditEvent
from audit.services import audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(role_user):
    return audit_record(action=AuditAction.LOGIN, user=role_user("clinician"), nhs_number="9434765919")


def test_orm_update_is_refused_by_the_database(event):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(nhs_number="9999999999")
    event.refresh_from_db()
    assert event.nhs_number == "9434765919"


def test_orm_delete_is_refused_by_the_database(event):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_raw_sql_update_and_delete_are_refused(event):
    for sql in (
        "UPDATE audit_auditevent SET outcome = 'failure' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).outcome == "success"


def test_inserts_still_work(event):
    audit_record(action=AuditAction.LOGOUT, user=event.user)
    assert AuditEvent.objects.count() == 2


def test_audit_records_the_address_from_a_trusted_proxy_only(rf, settings, role_user):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.20")
    request.user = role_user("clinician")
    assert audit_record(action=AuditAction.LOGIN, request=request).ip_address == "10.0.0.2"
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert audit_record(action=AuditAction.LOGIN, request=request).ip_address == "198.51.100.20"
