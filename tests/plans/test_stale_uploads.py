"""An import killed part-way (`manage.py import_plans` SIGKILLed mid-apply) leaves its upload
"Being applied" and the plans untouched; the beat task marks it failed, and audits it."""

import os
import signal
import subprocess
import sys
from datetime import timedelta

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from plans.models import Plan, PlanUpload, UploadStatus
from plans.services import _PLAN_LOCK_NAMESPACE
from plans.uploads import STALE_UPLOAD_MESSAGE, plan_uploads_stale_fail
from tests.notifications.worker import wait_until
from tests.plans.helpers import csv_bytes, row

pytestmark = pytest.mark.django_db(transaction=True)


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _apply_waits_for_the_plans_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))"
        )
        return cursor.fetchone()[0]


def test_an_import_killed_mid_apply_is_marked_failed_and_the_plans_are_untouched(local_authority, tmp_path):
    path = tmp_path / "plans.csv"
    path.write_bytes(csv_bytes([row(n) for n in range(1, 40_001)]))
    # Another writer of this LA's plans holds their lock, so the import, once inside its apply
    # transaction with the upload row locked, waits there, and is killed there: on a fast
    # machine a timed kill could land after the commit.
    holder = psycopg.connect(_database_url(), autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s, %s)", [_PLAN_LOCK_NAMESPACE, local_authority.pk])
    command = subprocess.Popen(
        [sys.executable, "manage.py", "import_plans", "--organisation", "LA001", str(path)],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "cpis.settings.test", "DATABASE_URL": _database_url()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(_apply_waits_for_the_plans_lock, timeout=60, what="the apply to wait for the plans' lock")
        assert command.poll() is None, "the import finished before it could be killed"
        command.send_signal(signal.SIGKILL)
        command.wait(timeout=10)
    finally:
        if command.poll() is None:
            command.kill()
        holder.close()
    upload = PlanUpload.objects.get()
    assert upload.status == UploadStatus.QUEUED
    assert not Plan.objects.exists()  # all or nothing

    # The database notices the dead client and releases its lock; before that (or while an
    # apply really runs) the task leaves the upload alone.
    later = timezone.now() + timedelta(minutes=5)
    wait_until(lambda: plan_uploads_stale_fail(now=later) == 1, timeout=30, what="the stale upload to be failed")
    upload.refresh_from_db()
    assert upload.status == UploadStatus.FAILED
    assert upload.file_message == STALE_UPLOAD_MESSAGE
    assert AuditEvent.objects.filter(action=AuditAction.PLAN_UPLOAD_FAILED, detail__upload_id=upload.pk).exists()
    assert plan_uploads_stale_fail(now=later) == 0  # once


def test_an_upload_being_applied_or_just_queued_is_left_alone(local_authority):
    from django.db import transaction

    fresh = PlanUpload.objects.create(
        organisation=local_authority, filename="a.csv", status=UploadStatus.QUEUED, confirmed_at=timezone.now()
    )
    # A web upload waits for a worker with its file stored: given the broker's redelivery time.
    waiting = PlanUpload.objects.create(
        organisation=local_authority,
        filename="b.csv",
        status=UploadStatus.QUEUED,
        content=b"x",
        confirmed_at=timezone.now() - timedelta(minutes=30),
    )
    applying = PlanUpload.objects.create(
        organisation=local_authority,
        filename="c.csv",
        status=UploadStatus.QUEUED,
        confirmed_at=timezone.now() - timedelta(hours=5),
    )
    import threading

    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        with transaction.atomic():
            PlanUpload.objects.select_for_update().get(pk=applying.pk)
            locked.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    locked.wait(10)
    try:
        assert plan_uploads_stale_fail() == 0
    finally:
        release.set()
        holder.join()
    assert set(PlanUpload.objects.values_list("status", flat=True)) == {UploadStatus.QUEUED}
    assert {fresh.pk, waiting.pk}  # both still queued
    # Past the broker's redelivery time, the stored file's message is presumed lost too.
    later = timezone.now() + timedelta(seconds=settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] * 2)
    assert plan_uploads_stale_fail(now=later) == 3
