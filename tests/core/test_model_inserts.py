"""core.model_inserts: a model instance's INSERT, as Django's save() would send it."""

import pytest
from django.db import connection

from audit.models import AuditAction, AuditEvent
from core.model_inserts import insert_statement

pytestmark = pytest.mark.django_db


def test_the_insert_writes_the_row_save_would():
    saved = AuditEvent(action=AuditAction.LOGIN, nhs_number="9434765919", ip_address="192.0.2.1", detail={"a": [1]})
    unsaved = AuditEvent(
        action=AuditAction.LOGIN,
        nhs_number="9434765919",
        ip_address="192.0.2.1",
        detail={"a": [1]},
        occurred_at=saved.occurred_at,
    )
    saved.save()
    sql, params = insert_statement(unsaved, name="event")
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING id", params)
        (new_id,) = cursor.fetchone()
    columns = [f.attname for f in AuditEvent._meta.concrete_fields if not f.primary_key]
    assert (
        AuditEvent.objects.filter(pk=new_id).values(*columns).get()
        == AuditEvent.objects.filter(pk=saved.pk).values(*columns).get()
    )


def test_an_expression_replaces_one_columns_value():
    sql, params = insert_statement(AuditEvent(action=AuditAction.LOGIN), name="e", expressions={"nhs_number": "'x'"})
    assert "'x'" in sql and "%(e_nhs_number)s" not in sql
    assert "e_nhs_number" in params


def test_a_saved_row_or_an_unknown_column_is_refused():
    event = AuditEvent.objects.create(action=AuditAction.LOGIN)
    with pytest.raises(ValueError):
        insert_statement(event, name="e")
    with pytest.raises(ValueError):
        insert_statement(AuditEvent(action=AuditAction.LOGIN), name="e", expressions={"no_such_column": "1"})
