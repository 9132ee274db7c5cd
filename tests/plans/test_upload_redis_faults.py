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
