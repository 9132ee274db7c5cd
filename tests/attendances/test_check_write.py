"""What a recording check writes (visit, notifications, outbox rows, audit event), the same on
PostgreSQL's one statement, the ORM's way on PostgreSQL, and the ORM's way on SQLite."""

import datetime as dt
import uuid

import pytest
from django.db import connection, transaction
from django.test import RequestFactory
from django.utils import timezone

from accounts.models import Role
from attendances.models import Visit
from attendances.services import check, child_check
from audit.models import AuditAction, AuditEvent
from mesh.models import MeshMailbox
from notifications.models import Delivery, Notification, WebhookEndpoint
from notifications.services import outbox
from plans.models import Plan
from tests.factories import OrganisationFactory, PlanFactory, user_with_role

# Also on SQLite, as the demo runs (`make test`, cpis/settings/test_sqlite.py).
pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]

# Columns the database or the clock fills: replaced by what they point at, or only checked set.
_CLOCK = {"recorded_at", "occurred_at", "created_at", "next_attempt_at", "due_at"}


def _rows_written(*, since: dt.datetime) -> dict[str, list[dict]]:
    """Every visit, notification, delivery and check audit event, each row's columns with ids
    replaced by what they name (a notification by its LA), so two runs compare equal."""
    la_of = dict(Notification.objects.values_list("pk", "local_authority__ods_code"))
    visit_ids = list(Visit.objects.values_list("pk", flat=True))

    def columns(row, *, named: dict[str, dict]) -> dict:
        values = {}
        for field in type(row)._meta.concrete_fields:
            value = getattr(row, field.attname)
            if field.primary_key:
                continue
            if field.attname in _CLOCK:
                # Set by this check (or earlier by the test's own rows), never left empty.
                assert value is not None
                value = "now" if value >= since else "before"
            elif field.attname in named:
                value = named[field.attname].get(value, value)
            values[field.attname] = value
        return values

    events = AuditEvent.objects.filter(action=AuditAction.CHILD_CHECKED)
    return {
        "visits": [columns(v, named={}) for v in Visit.objects.order_by("arrived_at")],
        "notifications": sorted(
            (columns(n, named={}) for n in Notification.objects.all()),
            key=lambda n: (n["local_authority_id"], n["first_attended_at"]),
        ),
        "deliveries": sorted(
            (columns(d, named={"notification_id": la_of}) for d in Delivery.objects.all()),
            key=lambda d: (d["notification_id"], d["channel"]),
        ),
        "audit": [
            {
                **columns(e, named={}),
                "detail": {
                    **e.detail,
                    "visit_id": visit_ids.index(e.detail["visit_id"]) if e.detail["visit_id"] else None,
                    "notification_ids": [la_of[i] for i in e.detail["notification_ids"]],
                },
            }
            for e in events
        ],
    }


@pytest.fixture
def scene(care_setting):
    """A child with plans at three LAs: one with a team mailbox, an active webhook and a MESH
    mailbox, and an episode from this setting an hour ago (joined); one with two plans and
    nothing but the inbox; one whose webhook is switched off."""
    joined_la = OrganisationFactory(local_authority=True)
    WebhookEndpoint.objects.create(local_authority=joined_la, url="https://la.example/hook", secret="s" * 32)
    MeshMailbox.objects.create(local_authority=joined_la, mailbox_id="LA999MB01")
    plain_la = OrganisationFactory(local_authority=True, team_mailbox="")
    quiet_la = OrganisationFactory(local_authority=True)
    WebhookEndpoint.objects.create(
        local_authority=quiet_la, url="https://q.example/hook", secret="q" * 32, is_active=False
    )
    plan = PlanFactory(organisation=joined_la)
    same_child = {"nhs_number": plan.nhs_number, "date_of_birth": plan.date_of_birth}
    PlanFactory(organisation=plain_la, looked_after=True, **same_child)
    PlanFactory(organisation=plain_la, **same_child)
    PlanFactory(organisation=quiet_la, **same_child)
    earlier = timezone.now() - dt.timedelta(hours=1)
    Notification.objects.create(
        local_authority=joined_la,
        care_setting=care_setting,
        nhs_number=plan.nhs_number,
        family_name=plan.family_name,
        given_names=plan.given_names,
        date_of_birth=plan.date_of_birth,
        plan_types="CPP",
        first_attended_at=earlier,
        last_attended_at=earlier,
        checked_by_name="Someone Earlier",
        checked_by_role=Role.CLINICIAN,
        created_at=earlier,
        due_at=earlier + dt.timedelta(days=1),
    )
    return plan


def _check(
    plan: Plan, care_setting, user, *, date_of_birth: dt.date | None, token: uuid.UUID | None = None, at=None
) -> None:
    request = RequestFactory().post("/check/", REMOTE_ADDR="192.0.2.7")
    child_check(
        nhs_number=plan.nhs_number,
        date_of_birth=date_of_birth,
        arrived_at=at or timezone.now(),
        user=user,
        organisation=care_setting,
        role=Role.CLINICIAN,
        trace_id="trace-0001",
        request=request,
        idempotency_key=token or uuid.uuid4(),
    )


class _Undo(Exception):
    pass


def _written_then_undone(plan, care_setting, user, *, date_of_birth, since, token) -> dict:
    try:
        with transaction.atomic():
            _check(plan, care_setting, user, date_of_birth=date_of_birth, token=token, at=since)
            written = _rows_written(since=since)
            raise _Undo
    except _Undo:
        return written


def _orm_everywhere(monkeypatch) -> None:
    """The SQLite demo's way of writing, on this database."""
    monkeypatch.setattr(check, "_record_in_one_statement", check._record_with_orm)
    monkeypatch.setattr(outbox, "_record_in_one_statement", outbox._record_with_orm)


@pytest.mark.parametrize("date_of_birth", ["none", "same", "different"])
def test_a_recording_check_writes_the_rows_the_rules_say(scene, care_setting, settings, date_of_birth):
    settings.MESH_URL, settings.MESH_MAILBOX_ID = "https://mesh.example", "X26CPIS01"
    user = user_with_role(Role.CLINICIAN, care_setting)
    entered = {"none": None, "same": scene.date_of_birth, "different": dt.date(2011, 2, 3)}[date_of_birth]
    since = timezone.now()
    _check(scene, care_setting, user, date_of_birth=entered)
    written = _rows_written(since=since)

    # In LA order, as the notifications are made.
    las = list(Plan.objects.order_by("organisation_id").values_list("organisation__ods_code", flat=True).distinct())
    (visit,) = written["visits"]
    assert visit["nhs_number"] == scene.nhs_number
    assert visit["checked_by_id"] == user.pk
    assert visit["checked_by_name"] == user.full_name
    assert visit["care_setting_id"] == care_setting.pk
    # One notification per LA: the episode joined (twice attended), two created.
    assert sorted(n["attendance_count"] for n in written["notifications"]) == [1, 1, 2]
    flagged = entered if date_of_birth == "different" else None
    assert {n["date_of_birth_entered"] for n in written["notifications"]} == {flagged}
    # Deliveries only for the created ones: the inbox always, e-mail where there is a team
    # mailbox, no webhook where it is off; the joined LA's webhook and MESH were sent before.
    created = {n["local_authority_id"] for n in written["notifications"] if n["attendance_count"] == 1}
    assert len(created) == 2
    assert sorted(d["channel"] for d in written["deliveries"]) == ["email", "inbox", "inbox"]
    (event,) = written["audit"]
    assert event["detail"]["visit_id"] == 0
    assert event["detail"]["notification_ids"] == las
    assert event["detail"]["dob_mismatch"] is (date_of_birth == "different")
    assert (event["ip_address"], event["trace_id"], event["roles"]) == ("192.0.2.7", "trace-0001", "clinician")
    assert event["user_id"] == user.pk and event["organisation_id"] == care_setting.pk


@pytest.mark.postgresql
@pytest.mark.parametrize("date_of_birth", ["none", "different"])
def test_one_statement_writes_what_the_orm_writes(scene, care_setting, settings, monkeypatch, date_of_birth):
    assert connection.vendor == "postgresql"
    settings.MESH_URL, settings.MESH_MAILBOX_ID = "https://mesh.example", "X26CPIS01"
    user = user_with_role(Role.CLINICIAN, care_setting)
    entered = dt.date(2011, 2, 3) if date_of_birth == "different" else None
    since, token = timezone.now(), uuid.uuid4()

    in_one_statement = _written_then_undone(scene, care_setting, user, date_of_birth=entered, since=since, token=token)
    _orm_everywhere(monkeypatch)
    with_orm = _written_then_undone(scene, care_setting, user, date_of_birth=entered, since=since, token=token)

    assert in_one_statement == with_orm
    assert len(in_one_statement["deliveries"]) == 3  # not two empty runs


@pytest.mark.postgresql
def test_one_statement_is_one_query(scene, care_setting, django_assert_num_queries):
    user = user_with_role(Role.CLINICIAN, care_setting)
    plans = list(Plan.objects.select_related("organisation"))
    visit = Visit(
        nhs_number=scene.nhs_number,
        arrived_at=timezone.now(),
        care_setting=care_setting,
        checked_by=user,
        checked_by_name=user.full_name,
        checked_by_role=Role.CLINICIAN,
    )
    audit = check.audit_event_build(action=AuditAction.CHILD_CHECKED, user=user, detail={"plan_ids": []})
    with transaction.atomic(), django_assert_num_queries(1):
        notification_ids = check._record_in_one_statement(
            visit=visit, plans=plans, audit=audit, date_of_birth_entered=None
        )
    assert Visit.objects.filter(pk=visit.pk).exists()
    assert AuditEvent.objects.get(pk=audit.pk).detail["notification_ids"] == notification_ids
    assert len(notification_ids) == 3
