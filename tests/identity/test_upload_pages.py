"""The identity codes through the upload pages (preview, confirm, acknowledgement, CSV), and the
fault: PDS down mid-upload, then back. The local PDS server runs as a real process."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Role
from audit.models import AuditAction, AuditEvent
from identity.models import PdsLookup
from identity.uploads import held_uploads_retry
from plans.models import FileCode, Plan, PlanUpload, UploadStatus
from tests.factories import PlanFactory
from tests.identity.pds import patient_for
from tests.plans.helpers import csv_bytes, import_bytes, row

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(role_user, client_for):
    return client_for(role_user(Role.PLAN_MANAGER))


def _upload(manager, content, capture) -> PlanUpload:
    with capture(execute=True):
        manager.post("/plans/uploads/", {"file": SimpleUploadedFile("plans.csv", content)})
    return PlanUpload.objects.latest("id")


def test_preview_and_acknowledgement_explain_each_code(
    manager, local_authority, pds, django_capture_on_commit_callbacks
):
    good, mistyped = row(1), row(2)
    pds.add(patient_for(good))
    superseded = row(3, nhs_number="9000001013", family_name="Smith", given_names="Jane", date_of_birth="2010-10-22")
    upload = _upload(manager, csv_bytes([good, mistyped, superseded]), django_capture_on_commit_callbacks)
    assert upload.status == UploadStatus.PREVIEW
    preview = manager.get(f"/plans/uploads/{upload.pk}/").content.decode()
    assert "Children verified" in preview and "1 of 3" in preview and "33.3%" in preview
    assert "CPR01" in preview and "CPR05" in preview
    assert "PDS has no record of this NHS number" in preview
    assert "replaced by 900 000 1005" in preview
    assert not Plan.objects.exists()

    requests_before = pds.stats()["patient_requests"]
    with django_capture_on_commit_callbacks(execute=True):
        manager.post(f"/plans/uploads/{upload.pk}/confirm/")
    # The apply reads the answers the preview got: PDS is not asked again.
    assert pds.stats()["patient_requests"] == requests_before
    ack = manager.get(f"/plans/uploads/{upload.pk}/").content.decode()
    assert "Acknowledgement CPF03" in ack and "33.3%" in ack and "below the 95% needed to go live" in ack
    assert list(Plan.objects.values_list("nhs_number", flat=True)) == [good["nhs_number"]]

    download = manager.get(f"/plans/uploads/{upload.pk}/rejected-rows.csv")
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert [r[:3] for r in rows[1:]] == [["3", "CPR01", "pds_no_match"], ["4", "CPR05", "pds_superseded"]]

    uploads_page = manager.get("/plans/uploads/").content.decode()
    assert "33.3%" in uploads_page and "Local authorities need at least 95% to go live" in uploads_page


def test_pds_down_mid_upload_then_back(manager, local_authority, pds, django_capture_on_commit_callbacks):
    """Nothing applied until verified, nothing lost, the LA told."""
    rows = [row(n) for n in range(1, 21)]
    pds.add(*(patient_for(r) for r in rows))
    # A plan already held, which the file would change: a failed verification must not.
    held_plan = PlanFactory(
        organisation=local_authority, nhs_number=rows[0]["nhs_number"], family_name="Before",
        given_names=rows[0]["given_names"], date_of_birth=rows[0]["date_of_birth"], start_date=rows[0]["start_date"],
    )  # fmt: skip
    pds.control(fail_after=8)
    upload = _upload(manager, csv_bytes(rows), django_capture_on_commit_callbacks)

    assert (upload.status, upload.file_code) == (UploadStatus.HELD, FileCode.CPF05)
    answered = PdsLookup.objects.filter(upload=upload).count()
    assert answered >= 8  # kept: the retry does not ask again
    page = manager.get(f"/plans/uploads/{upload.pk}/").content.decode()
    assert "CPF05" in page and "could not be reached" in page and "No plans have been changed" in page
    held_plan.refresh_from_db()
    assert held_plan.family_name == "Before" and Plan.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.PLAN_UPLOAD_HELD).count() == 1

    # Still down at the first retry: held again, still nothing applied.
    with django_capture_on_commit_callbacks(execute=True):
        assert held_uploads_retry() == [upload.pk]
    upload.refresh_from_db()
    assert upload.status == UploadStatus.HELD and Plan.objects.count() == 1

    pds.control(outage=False, reset_stats=True)
    with django_capture_on_commit_callbacks(execute=True):
        held_uploads_retry()
    upload.refresh_from_db()
    assert upload.status == UploadStatus.PREVIEW
    assert pds.stats()["patient_requests"] == 20 - answered
    with django_capture_on_commit_callbacks(execute=True):
        manager.post(f"/plans/uploads/{upload.pk}/confirm/")
    upload.refresh_from_db()
    assert (upload.status, upload.file_code) == (UploadStatus.APPLIED, FileCode.CPF02)
    assert Plan.objects.count() == 20
    held_plan.refresh_from_db()
    assert held_plan.family_name == rows[0]["family_name"]


def test_pds_down_during_an_unattended_import_holds_the_file_then_applies_it(
    local_authority, pds, django_capture_on_commit_callbacks
):
    rows = [row(n) for n in range(1, 6)]
    pds.add(*(patient_for(r) for r in rows))
    pds.control(outage=True)
    upload = import_bytes(local_authority, csv_bytes(rows))
    assert (upload.status, upload.file_code) == (UploadStatus.HELD, FileCode.CPF05)
    assert bytes(PlanUpload.objects.values_list("content", flat=True).get(pk=upload.pk))  # kept for the retry
    assert not Plan.objects.exists()
    pds.control(outage=False)
    with django_capture_on_commit_callbacks(execute=True):
        held_uploads_retry()
    upload.refresh_from_db()
    assert (upload.status, upload.file_code) == (UploadStatus.APPLIED, FileCode.CPF02)
    assert Plan.objects.count() == 5 and not bytes(upload.content)


def test_a_file_held_too_long_is_refused_for_the_la_to_resubmit(local_authority, pds, settings, manager):
    pds.add(patient_for(row(1)))
    pds.control(outage=True)
    upload = import_bytes(local_authority, csv_bytes([row(1)]))
    settings.IDENTITY_HELD_MAX_HOURS = 0
    held_uploads_retry()
    upload.refresh_from_db()
    assert (upload.status, upload.file_code) == (UploadStatus.REFUSED, FileCode.CPF05)
    assert "Upload the file again" in upload.file_message and not bytes(upload.content)
    page = manager.get(f"/plans/uploads/{upload.pk}/").content.decode()
    assert "Acknowledgement CPF05" in page and "No plans were changed" in page


def test_a_slow_pds_answer_times_out_and_holds_the_file(local_authority, pds, settings):
    settings.PDS_TIMEOUT = 0.5
    from identity import service

    service._pds_client.cache_clear()
    upload = import_bytes(
        local_authority,
        csv_bytes([row(1, nhs_number="9000001048", family_name="O'Neill-Davies", given_names="Zoë",
                       date_of_birth="2016-07-14")]),
    )  # fmt: skip
    assert (upload.status, upload.file_code) == (UploadStatus.HELD, FileCode.CPF05)


def test_a_malformed_pds_answer_holds_the_file_and_never_verifies_it(local_authority, pds, manager):
    sent = row(1)
    pds.add({"nhs_number": sent["nhs_number"], "malformed": True})
    upload = import_bytes(local_authority, csv_bytes([sent]))
    assert (upload.status, upload.file_code) == (UploadStatus.HELD, FileCode.CPF05)
    assert not Plan.objects.exists()
    progress = manager.get(f"/plans/uploads/{upload.pk}/progress/").json()
    assert progress["finished"] is True  # the progress bar stops and the page says why


def test_a_row_refused_only_for_a_date_still_has_its_number_looked_up(local_authority, pds):
    sent = row(1, start_date="2999-01-01")
    pds.add(patient_for(sent))
    upload = import_bytes(local_authority, csv_bytes([sent]))
    assert upload.file_code == FileCode.CPF04 and pds.stats()["patient_requests"] == 1


def test_a_big_file_is_verified_over_several_worker_tasks(
    manager, local_authority, pds, settings, django_capture_on_commit_callbacks
):
    settings.IDENTITY_LOOKUPS_PER_TASK = 2
    rows = [row(n) for n in range(1, 6)]
    pds.add(*(patient_for(r) for r in rows))
    upload = _upload(manager, csv_bytes(rows), django_capture_on_commit_callbacks)
    assert upload.status == UploadStatus.PREVIEW and upload.counts["identity"]["matched"] == 5
    assert pds.stats()["patient_requests"] == 5  # three tasks, each number asked once


def test_pds_answers_of_a_cancelled_preview_are_forgotten(
    manager, local_authority, pds, django_capture_on_commit_callbacks
):
    pds.add(patient_for(row(1)))
    upload = _upload(manager, csv_bytes([row(1)]), django_capture_on_commit_callbacks)
    assert PdsLookup.objects.filter(upload=upload).exists()  # kept for the apply
    manager.post(f"/plans/uploads/{upload.pk}/cancel/")
    held_uploads_retry()
    assert not PdsLookup.objects.exists()
