"""The upload pipeline through its services: preview, apply, idempotence, history, the order
of changes, double confirmation, serialised uploads and crashes mid-apply."""

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from plans.models import FileCode, Plan, PlanChange, PlanUpload, PlanUploadChange, UploadStatus
from plans.uploads import (
    pipeline,
    plan_upload_acknowledgement,
    plan_upload_apply,
    plan_upload_confirm,
    plan_upload_receive,
    plan_upload_reports_forget,
    plan_uploads_expire,
    steps,
    upload_progress,
)
from tests.factories import PlanFactory, nhs_number_for
from tests.plans.helpers import csv_bytes, days_ago, import_bytes, row

# Also on SQLite, as the demo runs (`make test`, cpis/settings/test_sqlite.py).
pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


def _receive(organisation, user, content: bytes) -> PlanUpload:
    upload = plan_upload_receive(
        organisation=organisation, by=user, filename="plans.csv", file=SimpleUploadedFile("plans.csv", content)
    )
    upload.refresh_from_db()
    return upload


def _plans() -> list[dict]:
    return list(Plan.objects.order_by("pk").values())


def test_preview_changes_nothing_and_predicts_the_apply(local_authority, role_user, django_capture_on_commit_callbacks):
    user = role_user("plan_manager")
    PlanFactory(
        organisation=local_authority, nhs_number=nhs_number_for(1), start_date=timezone.localdate() - timedelta(100)
    )
    held = _plans()
    content = csv_bytes([
        row(1, date_of_birth=str(held[0]["date_of_birth"]), start_date=days_ago(100), end_date=days_ago(3)),
        row(2), row(3), row(4, nhs_number="1"),
    ])  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        upload = _receive(local_authority, user, content)
    upload.refresh_from_db()
    assert upload.status == UploadStatus.PREVIEW
    assert upload.file_code == FileCode.CPF03
    assert upload.counts | {} == {
        "rows": 4, "accepted": 3, "rejected": 1, "created": 2, "updated": 0, "ended": 1, "withdrawn": 0,
        "reinstated": 0, "unchanged": 0,
    }  # fmt: skip
    assert _plans() == held
    preview = dict(upload.counts)

    with django_capture_on_commit_callbacks(execute=True):
        assert plan_upload_confirm(upload=upload, by=user)
    upload.refresh_from_db()
    assert upload.status == UploadStatus.APPLIED
    assert upload.counts == preview
    assert bytes(upload.content) == b""
    assert Plan.objects.count() == 3
    assert Plan.objects.get(nhs_number=nhs_number_for(1)).end_date.isoformat() == days_ago(3)
    ack = plan_upload_acknowledgement(upload=upload)
    assert ack["rejected"] == [
        {"line": 5, "code": "CPR07", "reason": "invalid_nhs_number", "message": ack["rejected"][0]["message"]}
    ]
    assert ack["accepted"] == {"code": "CPR06", "count": 3}
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        AuditAction.PLAN_UPLOAD_RECEIVED,
        AuditAction.PLAN_UPLOAD_CONFIRMED,
        AuditAction.PLAN_UPLOAD_APPLIED,
    } <= actions


def test_the_same_file_twice_changes_nothing_the_second_time(local_authority):
    content = csv_bytes([row(1), row(2, plan_type="LAC", end_date=days_ago(2)),
                         row(3, plan_type="UCPP", date_of_birth=days_ago(9000), expected_due_date=days_ago(-40))])  # fmt: skip
    first = import_bytes(local_authority, content)
    assert first.counts["created"] == 3
    plans, history = _plans(), PlanChange.objects.count()
    second = import_bytes(local_authority, content)
    assert second.file_code == FileCode.CPF02
    assert (second.counts["unchanged"], second.counts["created"], second.counts["updated"]) == (3, 0, 0)
    assert _plans() == plans
    assert PlanChange.objects.count() == history


def test_known_key_updates_names_reference_and_end_date_with_history(local_authority, role_user):
    import_bytes(local_authority, csv_bytes([row(1), row(2)]))
    upload = import_bytes(
        local_authority,
        csv_bytes([row(1, family_name="Smith-Jones", la_reference="NEW1"), row(2, end_date=days_ago(1))]),
    )
    assert (upload.counts["updated"], upload.counts["ended"]) == (1, 1)
    one = Plan.objects.get(nhs_number=nhs_number_for(1))
    assert (one.family_name, one.la_reference) == ("Smith-Jones", "NEW1")
    change = one.changes.first()
    assert change.action == "updated"
    assert change.upload_id == upload.pk
    assert change.changes == {"family_name": ["Smith", "Smith-Jones"], "la_reference": ["REF1", "NEW1"]}
    two = Plan.objects.get(nhs_number=nhs_number_for(2))
    assert two.changes.first().changes == {"end_date": [None, days_ago(1)]}


def test_withdrawal_then_reinstatement_from_files(local_authority):
    first = import_bytes(local_authority, csv_bytes([row(1)]))
    withdrawn = import_bytes(local_authority, csv_bytes([row(1, withdrawn="Y")]))
    assert withdrawn.counts["withdrawn"] == 1
    plan = Plan.objects.get()
    assert plan.withdrawn and plan.withdrawn_on == timezone.localdate()
    assert not Plan.objects.visible().exists()
    again = import_bytes(local_authority, csv_bytes([row(1, withdrawn="y")]))
    assert again.counts["unchanged"] == 1
    reinstated = import_bytes(local_authority, csv_bytes([row(1, withdrawn="N")]))
    assert reinstated.counts["reinstated"] == 1
    plan.refresh_from_db()
    assert not plan.withdrawn and plan.withdrawn_on is None
    assert [c.action for c in plan.changes.all()] == ["reinstated", "withdrawn"]
    assert (plan.created_source, plan.created_upload_id, plan.created_by_name) == ("upload", first.pk, "File import")


def test_one_file_can_end_a_plan_and_open_the_next_of_the_same_type(local_authority):
    import_bytes(local_authority, csv_bytes([row(1, start_date=days_ago(300))]))
    # The new plan comes first in the file: the apply still ends the old one before opening it.
    upload = import_bytes(
        local_authority,
        csv_bytes([row(1, start_date=days_ago(10)), row(1, start_date=days_ago(300), end_date=days_ago(11))]),
    )
    assert upload.file_code == FileCode.CPF02, list(upload.rejections.values())
    assert (upload.counts["created"], upload.counts["ended"]) == (1, 1)
    assert Plan.objects.filter(end_date__isnull=True).get().start_date.isoformat() == days_ago(10)


def test_a_file_can_withdraw_a_plan_with_a_wrong_birth_date_and_add_it_correctly(local_authority):
    import_bytes(local_authority, csv_bytes([row(1, date_of_birth=days_ago(3000))]))
    upload = import_bytes(
        local_authority,
        csv_bytes(
            [
                row(1, date_of_birth=days_ago(3000), withdrawn="Y"),
                row(1, date_of_birth=days_ago(3100), start_date=days_ago(99)),
            ]
        ),  # fmt: skip
    )
    assert upload.file_code == FileCode.CPF02, list(upload.rejections.values())
    assert Plan.objects.visible().get().date_of_birth.isoformat() == days_ago(3100)


def test_a_birth_date_held_by_another_la_is_a_conflict_but_correcting_our_own_is_not(
    local_authority, other_local_authority
):
    import_bytes(local_authority, csv_bytes([row(1, date_of_birth=days_ago(3000))]))
    corrected = import_bytes(local_authority, csv_bytes([row(1, date_of_birth=days_ago(3001))]))
    assert corrected.counts["updated"] == 1
    PlanFactory(
        organisation=other_local_authority,
        nhs_number=nhs_number_for(1),
        date_of_birth=timezone.localdate() - timedelta(3001),
    )
    conflict = import_bytes(local_authority, csv_bytes([row(1, date_of_birth=days_ago(3002))]))
    assert conflict.file_code == FileCode.CPF04
    assert conflict.rejections.get().reason == "demographics_conflict"
    assert "different date of birth" in conflict.rejections.get().message


def test_a_withdrawn_plan_elsewhere_is_no_conflict(local_authority, other_local_authority):
    PlanFactory(organisation=other_local_authority, nhs_number=nhs_number_for(1), withdrawn=True,
                date_of_birth=timezone.localdate() - timedelta(3333))  # fmt: skip
    assert import_bytes(local_authority, csv_bytes([row(1)])).file_code == FileCode.CPF02


def test_the_same_key_at_another_la_is_a_different_plan(local_authority, other_local_authority):
    theirs = PlanFactory(organisation=other_local_authority, nhs_number=nhs_number_for(1),
                         date_of_birth=timezone.localdate() - timedelta(3000))  # fmt: skip
    upload = import_bytes(
        local_authority,
        csv_bytes(
            [row(1, date_of_birth=days_ago(3000), start_date=theirs.start_date.isoformat(), family_name="Other")]
        ),
    )
    assert upload.counts["created"] == 1
    theirs.refresh_from_db()
    assert theirs.family_name != "Other"


def test_dry_run_changes_nothing(local_authority):
    upload = import_bytes(local_authority, csv_bytes([row(1), row(2)]), dry_run=True)
    assert upload.status == UploadStatus.DRY_RUN
    assert upload.counts["created"] == 2
    assert Plan.objects.count() == 0


def test_a_second_confirmation_does_nothing(local_authority, role_user, django_capture_on_commit_callbacks):
    user = role_user("plan_manager")
    with django_capture_on_commit_callbacks(execute=True):
        upload = _receive(local_authority, user, csv_bytes([row(1)]))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert plan_upload_confirm(upload=upload, by=user)
        assert not plan_upload_confirm(upload=upload, by=user)
    # One queueing of the apply; the reports' refresh of the LA's go-live state after it is not one.
    assert [c.__qualname__ for c in callbacks if hasattr(c, "__qualname__")] == ["plan_upload_confirm.<locals>.queue"]
    plan_upload_apply(upload_id=upload.pk)  # a redelivered message: nothing left to do
    plan = Plan.objects.get()
    assert (plan.created_upload_id, plan.created_by_name) == (upload.pk, user.full_name)


def test_a_file_with_no_accepted_rows_cannot_be_confirmed(
    local_authority, role_user, django_capture_on_commit_callbacks
):
    user = role_user("plan_manager")
    with django_capture_on_commit_callbacks(execute=True):
        upload = _receive(local_authority, user, csv_bytes([row(1, nhs_number="1")]))
    upload.refresh_from_db()
    assert (upload.status, upload.file_code) == (UploadStatus.REFUSED, FileCode.CPF04)
    assert not plan_upload_confirm(upload=upload, by=user)
    assert upload.rejections.count() == 1


def test_progress_is_finished_once_applied(local_authority):
    upload = import_bytes(local_authority, csv_bytes([row(1)]))
    assert upload_progress(upload=upload)["finished"] is True
    assert upload_progress(upload=upload)["percent"] == 100


@override_settings(PLAN_UPLOAD_PREVIEW_LIFETIME=timedelta(hours=24))
def test_unconfirmed_previews_expire_and_lose_their_file(
    local_authority, role_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload = _receive(local_authority, role_user("plan_manager"), csv_bytes([row(1)]))
    assert plan_uploads_expire(now=timezone.now() + timedelta(hours=23)) == 0
    assert plan_uploads_expire(now=timezone.now() + timedelta(hours=25)) == 1
    upload.refresh_from_db()
    assert upload.status == UploadStatus.CANCELLED and bytes(upload.content) == b""


def test_a_failure_mid_apply_leaves_every_plan_as_it_was(
    local_authority, role_user, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    user = role_user("plan_manager")
    import_bytes(local_authority, csv_bytes([row(1), row(2)]))
    before, history = _plans(), PlanChange.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        upload = _receive(
            local_authority, user, csv_bytes([row(1, end_date=days_ago(1)), row(2, withdrawn="Y"), row(3)])
        )

    def crash(*args, **kwargs):
        # The plans have been written by now (from the preview's kept rows); the
        # acknowledgement has not.
        assert Plan.objects.count() == 3
        raise RuntimeError(f"disk full while writing {nhs_number_for(3)}")

    monkeypatch.setattr(steps, "_file_code", crash)
    with django_capture_on_commit_callbacks(execute=True):
        plan_upload_confirm(upload=upload, by=user)
    upload.refresh_from_db()
    assert upload.status == UploadStatus.FAILED
    assert _plans() == before
    assert PlanChange.objects.count() == history
    assert AuditEvent.objects.filter(action=AuditAction.PLAN_UPLOAD_FAILED).exists()
    # A failed upload is never applied: its kept classification goes with it.
    assert not PlanUploadChange.objects.filter(upload=upload).exists()
    assert nhs_number_for(3) not in caplog.text
    assert "RuntimeError" in caplog.text


@pytest.mark.postgresql  # a second process on the same database
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_apply_leaves_the_plans_and_the_apply_runs_again(local_authority):
    import_bytes(local_authority, csv_bytes([row(1), row(2)]))
    before = _plans()
    upload = PlanUpload.objects.create(
        organisation=local_authority, filename="plans.csv", status=UploadStatus.QUEUED,
        content=csv_bytes([row(1, end_date=days_ago(1)), row(2, withdrawn="Y"), row(3), row(4)]),
    )  # fmt: skip
    # Another process applies it and dies (no exception handling, no rollback of its own)
    # after writing the plans and before committing: as when a worker is killed.
    script = (
        "import os, django; django.setup();"
        "from plans.uploads import steps;"
        "steps._rejections_store = lambda **kw: os._exit(9);"
        f"steps.plan_upload_apply(upload_id={upload.pk})"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cpis.settings.test", "DATABASE_URL": _database_url()}
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=settings.BASE_DIR, timeout=120, check=False)
    assert result.returncode == 9
    assert _plans() == before
    upload.refresh_from_db()
    assert upload.status == UploadStatus.QUEUED
    plan_upload_apply(upload_id=upload.pk)  # the redelivered message
    upload.refresh_from_db()
    assert (upload.status, upload.counts["created"], upload.counts["ended"]) == (UploadStatus.APPLIED, 2, 1)


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_two_uploads_from_one_la_are_serialised_not_interleaved(local_authority, monkeypatch):
    """Both files open a plan of the same type for the same child with different start dates.
    Interleaved, both would see no open plan and one would crash on the database constraint;
    serialised, the second sees the first's plan and rejects its row."""
    first = PlanUpload.objects.create(organisation=local_authority, filename="a.csv", status=UploadStatus.QUEUED,
                                      content=csv_bytes([row(1, start_date=days_ago(20))]))  # fmt: skip
    second = PlanUpload.objects.create(organisation=local_authority, filename="b.csv", status=UploadStatus.QUEUED,
                                       content=csv_bytes([row(1, start_date=days_ago(10))]))  # fmt: skip
    first_holds_lock, release_first = threading.Event(), threading.Event()
    classify = pipeline._classify

    def slow_classify(cursor, **kwargs):
        if threading.current_thread().name == "first":
            first_holds_lock.set()
            release_first.wait(30)
        classify(cursor, **kwargs)

    monkeypatch.setattr(pipeline, "_classify", slow_classify)

    def apply(upload_id):
        try:
            plan_upload_apply(upload_id=upload_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=apply, args=(first.pk,), name="first")]
    threads[0].start()
    assert first_holds_lock.wait(30)
    threads.append(threading.Thread(target=apply, args=(second.pk,), name="second"))
    threads[1].start()
    time.sleep(1.0)
    second.refresh_from_db()
    assert second.status == UploadStatus.QUEUED, "the second upload ran while the first held the LA's lock"
    release_first.set()
    for thread in threads:
        thread.join(60)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.file_code) == (UploadStatus.APPLIED, FileCode.CPF02)
    assert (second.status, second.file_code) == (UploadStatus.REFUSED, FileCode.CPF04)
    assert second.rejections.get().reason == "open_plan_exists"
    assert Plan.objects.get().start_date.isoformat() == days_ago(20)


def test_a_plan_recorded_in_error_can_be_withdrawn_after_the_child_turned_18(local_authority):
    today = timezone.localdate()
    plan = PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(1),
                       date_of_birth=today - timedelta(days=365 * 18 + 30), start_date=today - timedelta(400))  # fmt: skip
    upload = import_bytes(
        local_authority,
        csv_bytes(
            [
                row(
                    1,
                    date_of_birth=plan.date_of_birth.isoformat(),
                    start_date=plan.start_date.isoformat(),
                    withdrawn="Y",
                )
            ]
        ),  # fmt: skip
    )
    assert upload.counts["withdrawn"] == 1, list(upload.rejections.values())
    plan.refresh_from_db()
    assert plan.withdrawn


@override_settings(PLAN_RETENTION_DAYS=30)
def test_rejected_rows_are_forgotten_after_the_retention_but_the_codes_stay(local_authority):
    upload = import_bytes(local_authority, csv_bytes([row(1), row(2, nhs_number="1")]))
    assert plan_upload_reports_forget(now=timezone.now() + timedelta(days=29)) == 0
    assert plan_upload_reports_forget(now=timezone.now() + timedelta(days=31)) == 1
    upload.refresh_from_db()
    assert not upload.rejections.exists()
    assert (upload.file_code, upload.counts["rejected"]) == (FileCode.CPF03, 1)


def test_nothing_personal_reaches_the_logs(local_authority, caplog):
    caplog.set_level("DEBUG")
    content = csv_bytes([row(1, family_name="Zebedee"), row(2, nhs_number="9990000019", given_names="Quentin")])
    import_bytes(local_authority, content, dry_run=True)
    import_bytes(local_authority, content)
    logged = caplog.text
    for personal in ("Zebedee", "Quentin", nhs_number_for(1), "9990000019"):
        assert personal not in logged
