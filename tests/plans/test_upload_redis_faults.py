"""A plan upload while Redis (the cache, which holds the progress bar) is down or frozen: the
apply reports progress from inside its transaction, so Redis must neither fail it nor hold its
locks for more than one socket timeout."""

import time

import pytest
from django.conf import settings
from django.test import override_settings

from plans.models import Plan, UploadStatus
from tests.notifications.mail_servers import SilentMailServer
from tests.notifications.worker import free_port
from tests.plans.helpers import csv_bytes, import_bytes, row

pytestmark = pytest.mark.django_db


def _cache_at(url: str):
    return override_settings(CACHES={"default": {**settings.CACHES["default"], "LOCATION": url}})


def test_an_upload_is_applied_while_redis_is_down(local_authority):
    with _cache_at(f"redis://127.0.0.1:{free_port()}/1"):
        upload = import_bytes(local_authority, csv_bytes([row(n) for n in range(1, 21)]))

    assert upload.status == UploadStatus.APPLIED, upload.file_message
    assert Plan.objects.filter(organisation=local_authority).count() == 20


def test_an_upload_waits_on_a_frozen_redis_once_while_it_holds_its_locks(local_authority):
    frozen = SilentMailServer().start()  # accepts connections and never answers, like a frozen Redis
    try:
        with _cache_at(f"redis://127.0.0.1:{frozen.port}/1"):
            started = time.monotonic()
            upload = import_bytes(local_authority, csv_bytes([row(n) for n in range(1, 21)]))
            took = time.monotonic() - started
    finally:
        frozen.stop()

    assert upload.status == UploadStatus.APPLIED, upload.file_message
    # One socket timeout (the breaker then stops asking), not one per progress report.
    assert took < settings.REDIS_SOCKET_TIMEOUT + 1.5, took


def test_a_confirmation_reports_its_progress_only_after_it_commits(
    local_authority, role_user, django_capture_on_commit_callbacks
):
    from django.core.cache import cache
    from django.core.files.uploadedfile import SimpleUploadedFile

    from plans.uploads import plan_upload_confirm, plan_upload_receive, upload_progress

    user = role_user("plan_manager")
    with django_capture_on_commit_callbacks(execute=True):
        upload = plan_upload_receive(
            organisation=local_authority, by=user, filename="plans.csv",
            file=SimpleUploadedFile("plans.csv", csv_bytes([row(1)])),
        )  # fmt: skip
    upload.refresh_from_db()
    assert upload.status == UploadStatus.PREVIEW
    cache.delete(f"plans:upload-progress:{upload.pk}")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert plan_upload_confirm(upload=upload, by=user)
    # Nothing written to Redis inside the transaction that holds the upload's row.
    assert cache.get(f"plans:upload-progress:{upload.pk}") is None
    for callback in callbacks:
        callback()
    upload.refresh_from_db()
    assert upload.status == UploadStatus.APPLIED
    assert upload_progress(upload=upload)["finished"]
