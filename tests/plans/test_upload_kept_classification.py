"""The browser's preview-then-apply: the apply writes the preview's kept classification as it
is while the plans it was checked against stand, and checks the file again when they do not
(another upload landed, a plan was edited, another LA wrote a plan for a child in the file, the
day changed); once, whatever the number of applies; and the kept rows are cleaned up."""

import threading
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from plans.models import FileCode, Plan, PlanChange, PlanUpload, PlanUploadChange, UploadStatus
from plans.services import plan_create, plan_withdraw
from plans.uploads import (
    pipeline,
    plan_upload_apply,
    plan_upload_cancel,
    plan_upload_confirm,
    plan_upload_receive,
    plan_uploads_expire,
    plan_uploads_stale_fail,
    steps,
)
from tests.factories import PlanFactory, nhs_number_for
from tests.plans.helpers import csv_bytes, days_ago, import_bytes, row

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]

# A file that cannot be read at all: an apply that still succeeds never read it again.
_UNREADABLE = b"\x00not a csv"


def _preview(organisation, user, content: bytes, capture) -> PlanUpload:
    with capture(execute=True):
        upload = plan_upload_receive(
            organisation=organisation, by=user, filename="plans.csv", file=SimpleUploadedFile("plans.csv", content)
        )
    upload.refresh_from_db()
    assert upload.status == UploadStatus.PREVIEW, upload.file_message
    return upload


def _confirm(upload: PlanUpload, user, capture) -> PlanUpload:
    with capture(execute=True):
        assert plan_upload_confirm(upload=upload, by=user)
    upload.refresh_from_db()
    return upload


@pytest.fixture
def classifications(monkeypatch) -> list[int]:
    """Each call of the pipeline's classification, by the upload's organisation."""
    calls: list[int] = []
    classify = pipeline._classify

    def counted(cursor, *, organisation_id):
        calls.append(organisation_id)
        classify(cursor, organisation_id=organisation_id)

    monkeypatch.setattr(pipeline, "_classify", counted)
    return calls


def _held_plans(organisation) -> None:
    """Plans the file below updates, ends, withdraws, reinstates and leaves alone."""
    for n in (1, 2, 3, 4, 5):
        PlanFactory(
            organisation=organisation, nhs_number=nhs_number_for(n), start_date=timezone.localdate() - timedelta(100),
            date_of_birth=timezone.localdate() - timedelta(365 * 8 + n % 300), family_name="Smith",
            given_names=f"Child {chr(65 + n % 26)}", la_reference=f"REF{n}", withdrawn=n == 4,
        )  # fmt: skip


def _mixed_file() -> bytes:
    return csv_bytes([
        row(1, family_name="Smyth"),  # updated
        row(2, end_date=days_ago(2)),  # ended
        row(3, withdrawn="Y"),  # withdrawn
        row(4),  # reinstated
        row(5),  # unchanged
        row(6), row(7, plan_type="LAC"),  # created
        row(8, nhs_number="1"),  # rejected
    ])  # fmt: skip


def _outcome(organisation) -> tuple[list[tuple], list[tuple]]:
    plans = Plan.objects.filter(organisation=organisation).order_by("nhs_number", "plan_type")
    fields = ("nhs_number", "family_name", "given_names", "date_of_birth", "plan_type", "start_date", "end_date",
              "expected_due_date", "la_reference", "withdrawn", "withdrawn_on")  # fmt: skip
    history = PlanChange.objects.filter(plan__organisation=organisation).order_by("plan__nhs_number")
    return list(plans.values_list(*fields)), list(history.values_list("plan__nhs_number", "action", "changes"))


def test_an_unchanged_preview_is_applied_from_its_kept_rows_as_checking_the_file_again_would(
    local_authority, other_local_authority, role_user, classifications, django_capture_on_commit_callbacks
):
    user = role_user("plan_manager")
    # The same plans at two LAs; the other LA's file is applied first, read and checked in one pass.
    _held_plans(other_local_authority)
    _held_plans(local_authority)
    checked_again = import_bytes(other_local_authority, _mixed_file())
    classifications.clear()

    upload = _preview(local_authority, user, _mixed_file(), django_capture_on_commit_callbacks)
    previewed = dict(upload.counts)
    assert PlanUploadChange.objects.filter(upload=upload).count() == 6  # every change, not the unchanged row
    # The stored file is no longer readable: an apply that succeeds did not read it.
    PlanUpload.objects.filter(pk=upload.pk).update(content=_UNREADABLE)
    upload = _confirm(upload, user, django_capture_on_commit_callbacks)

    assert classifications == [local_authority.pk], "the apply classified the file again"
    assert (upload.status, upload.file_code) == (UploadStatus.APPLIED, FileCode.CPF03)
    assert upload.counts == previewed == checked_again.counts
    assert "differs_from_preview" not in upload.counts
    assert _outcome(local_authority) == _outcome(other_local_authority)
    assert list(upload.rejections.values_list("line_number", "reason")) == [(9, "invalid_nhs_number")]
    assert not PlanUploadChange.objects.filter(upload=upload).exists()
    assert upload.classified_against is None
    assert Plan.objects.filter(created_upload_id=upload.pk).count() == 2


@pytest.mark.postgresql  # two connections at once
@pytest.mark.django_db(transaction=True)
def test_two_applies_of_one_preview_apply_it_once(local_authority, role_user, monkeypatch):
    user = role_user("plan_manager")
    PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(1), start_date=timezone.localdate() - timedelta(100),
                date_of_birth=timezone.localdate() - timedelta(365 * 8 + 1))  # fmt: skip
    upload = plan_upload_receive(
        organisation=local_authority, by=user, filename="plans.csv",
        file=SimpleUploadedFile("plans.csv", csv_bytes([row(1, end_date=days_ago(1)), row(2), row(3)])),
    )  # fmt: skip
    steps.plan_upload_analyse(upload_id=upload.pk)
    PlanUpload.objects.filter(pk=upload.pk).update(status=UploadStatus.QUEUED, confirmed_by=user)
    first_writing, release_first = threading.Event(), threading.Event()
    run_kept = steps._run_kept

    def slow_run_kept(**kwargs):
        outcome = run_kept(**kwargs)
        if threading.current_thread().name == "first":
            first_writing.set()
            release_first.wait(30)
        return outcome

    monkeypatch.setattr(steps, "_run_kept", slow_run_kept)

    def apply():
        try:
            plan_upload_apply(upload_id=upload.pk)
        finally:
            connection.close()

    first = threading.Thread(target=apply, name="first")
    first.start()
    assert first_writing.wait(30)
    # The same message delivered twice (a second worker, a late acknowledgement).
    second = threading.Thread(target=apply, name="second")
    second.start()
    second.join(1.0)
    assert second.is_alive(), "the second apply did not wait for the first"
    release_first.set()
    first.join(60)
    second.join(60)
    upload.refresh_from_db()
    assert (upload.status, upload.counts["created"], upload.counts["ended"]) == (UploadStatus.APPLIED, 2, 1)
    assert Plan.objects.count() == 3
    assert Plan.objects.filter(created_upload_id=upload.pk).count() == 2
    assert PlanChange.objects.filter(upload=upload).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.PLAN_UPLOAD_APPLIED).count() == 1
    assert not PlanUploadChange.objects.exists()


def test_an_apply_after_another_upload_landed_checks_the_file_again(
    local_authority, role_user, classifications, django_capture_on_commit_callbacks
):
    """Both files open a plan of the same type for child 1 with different start dates. The
    preview's classification ("created") would break the one-open-plan rule; checked again, the
    row is rejected and the rest applied."""
    user = role_user("plan_manager")
    upload = _preview(
        local_authority, user, csv_bytes([row(1, start_date=days_ago(20)), row(2)]), django_capture_on_commit_callbacks
    )
    assert upload.counts["created"] == 2
    landed = import_bytes(local_authority, csv_bytes([row(1, start_date=days_ago(10))]))
    assert landed.status == UploadStatus.APPLIED
    classifications.clear()
    upload = _confirm(upload, user, django_capture_on_commit_callbacks)

    assert classifications == [local_authority.pk]
    assert (upload.status, upload.file_code) == (UploadStatus.APPLIED, FileCode.CPF03)
    assert (upload.counts["created"], upload.counts["rejected"]) == (1, 1)
    assert upload.counts["differs_from_preview"] is True
    assert upload.rejections.get().reason == "open_plan_exists"
    assert [p.start_date.isoformat() for p in Plan.objects.filter(nhs_number=nhs_number_for(1))] == [days_ago(10)]
    assert Plan.objects.filter(nhs_number=nhs_number_for(2), created_upload_id=upload.pk).count() == 1
    assert not PlanUploadChange.objects.exists()


def test_an_apply_after_a_plan_was_edited_checks_the_file_again(
    local_authority, role_user, classifications, client_for, django_capture_on_commit_callbacks
):
    """The file ends plan 1; after the preview a plan manager withdraws it on its form. Kept as
    previewed ("ended"), the apply would reinstate it without saying so; checked again it is
    counted and recorded as the reinstatement it is."""
    user = role_user("plan_manager")
    import_bytes(local_authority, csv_bytes([row(1)]))
    upload = _preview(
        local_authority, user, csv_bytes([row(1, end_date=days_ago(1))]), django_capture_on_commit_callbacks
    )
    assert (upload.counts["ended"], upload.counts["reinstated"]) == (1, 0)
    plan_withdraw(plan=Plan.objects.get(), by=user)
    classifications.clear()
    upload = _confirm(upload, user, django_capture_on_commit_callbacks)

    assert classifications == [local_authority.pk]
    assert (upload.counts["ended"], upload.counts["reinstated"]) == (0, 1)
    assert upload.counts["differs_from_preview"] is True
    plan = Plan.objects.get()
    assert (plan.withdrawn, plan.end_date.isoformat()) == (False, days_ago(1))
    assert list(plan.changes.values_list("action", flat=True)) == ["reinstated", "withdrawn"]
    page = client_for(user).get(f"/plans/uploads/{upload.pk}/")
    assert page.status_code == 200
    assert b'data-testid="differs-from-preview"' in page.content


def test_a_plan_written_elsewhere_for_a_child_in_the_file_sends_the_apply_back_to_the_file(
    local_authority, other_local_authority, role_user, classifications, django_capture_on_commit_callbacks
):
    """Another LA records child 1 with another date of birth after the preview: checked again,
    the row is a demographics conflict. A plan written elsewhere for a child not in the file
    leaves the kept classification standing."""
    user = role_user("plan_manager")
    other_user = role_user("plan_manager", organisation=other_local_authority)
    content = csv_bytes([row(1, date_of_birth=days_ago(3000)), row(2)])
    upload = _preview(local_authority, user, content, django_capture_on_commit_callbacks)
    plan_create(organisation=other_local_authority, by=other_user, nhs_number=nhs_number_for(9), family_name="Jones",
                given_names="Sam", date_of_birth=timezone.localdate() - timedelta(2000), plan_type="CPP",
                start_date=timezone.localdate() - timedelta(30))  # fmt: skip
    assert steps._classification_stands(upload=upload, written_before=0)

    plan_create(organisation=other_local_authority, by=other_user, nhs_number=nhs_number_for(1), family_name="Smith",
                given_names="Child B", date_of_birth=timezone.localdate() - timedelta(3001), plan_type="LAC",
                start_date=timezone.localdate() - timedelta(30))  # fmt: skip
    classifications.clear()
    upload = _confirm(upload, user, django_capture_on_commit_callbacks)

    assert classifications == [local_authority.pk]
    assert upload.rejections.get().reason == "demographics_conflict"
    assert (upload.counts["created"], upload.counts["differs_from_preview"]) == (1, True)
    assert not Plan.objects.filter(organisation=local_authority, nhs_number=nhs_number_for(1)).exists()


def test_a_preview_from_another_day_is_checked_again(
    local_authority, role_user, classifications, django_capture_on_commit_callbacks
):
    user = role_user("plan_manager")
    upload = _preview(local_authority, user, csv_bytes([row(1)]), django_capture_on_commit_callbacks)
    against = {**upload.classified_against, "today": days_ago(1)}
    PlanUpload.objects.filter(pk=upload.pk).update(classified_against=against)
    classifications.clear()
    upload = _confirm(upload, user, django_capture_on_commit_callbacks)
    assert classifications == [local_authority.pk]
    assert upload.status == UploadStatus.APPLIED
    assert "differs_from_preview" not in upload.counts  # same outcome: nothing to tell


def test_a_preview_without_a_kept_classification_is_checked_again(
    local_authority, role_user, classifications, django_capture_on_commit_callbacks
):
    """As a preview kept by the release before this one: its rows serve the list alone."""
    user = role_user("plan_manager")
    upload = _preview(local_authority, user, csv_bytes([row(1), row(2)]), django_capture_on_commit_callbacks)
    PlanUpload.objects.filter(pk=upload.pk).update(classified_against=None)
    classifications.clear()
    upload = _confirm(upload, user, django_capture_on_commit_callbacks)
    assert classifications == [local_authority.pk]
    assert upload.counts["created"] == Plan.objects.count() == 2


def test_kept_classifications_go_when_cancelled_expired_or_no_longer_applicable(
    local_authority, role_user, django_capture_on_commit_callbacks
):
    user = role_user("plan_manager")
    cancelled = _preview(local_authority, user, csv_bytes([row(1)]), django_capture_on_commit_callbacks)
    assert plan_upload_cancel(upload=cancelled, by=user)
    assert not PlanUploadChange.objects.filter(upload=cancelled).exists()

    with override_settings(PLAN_UPLOAD_PREVIEW_LIFETIME=timedelta(hours=24)):
        expiring = _preview(local_authority, user, csv_bytes([row(2)]), django_capture_on_commit_callbacks)
        waiting = _preview(local_authority, user, csv_bytes([row(3)]), django_capture_on_commit_callbacks)
        PlanUpload.objects.filter(pk=expiring.pk).update(uploaded_at=timezone.now() - timedelta(hours=25))
        # Failed by a path that could not clean up after itself (a database error mid-clean-up).
        failed = _preview(local_authority, user, csv_bytes([row(4)]), django_capture_on_commit_callbacks)
        PlanUpload.objects.filter(pk=failed.pk).update(status=UploadStatus.FAILED)
        assert plan_uploads_expire() == 1
    assert set(PlanUploadChange.objects.values_list("upload_id", flat=True)) == {waiting.pk}
    expiring.refresh_from_db()
    assert (expiring.status, expiring.classified_against) == (UploadStatus.CANCELLED, None)

    # A confirmed upload whose apply message was lost: failed as stale, its kept rows with it.
    PlanUpload.objects.filter(pk=waiting.pk).update(
        status=UploadStatus.QUEUED, confirmed_at=timezone.now() - timedelta(days=2)
    )
    assert plan_uploads_stale_fail() == 1
    assert not PlanUploadChange.objects.exists()
