"""The poll's faults: killed mid-download or between download and acknowledgement, MESH down,
a wrong password; and the lease that lets one poller at a time work."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.cache import caches

from mesh.lease import Lease
from mesh.models import MeshInboundMessage, MeshPollState
from mesh.services import mesh_poll
from mesh.services.inbound import POLL_LEASE_KEY
from plans.models import Plan, PlanUpload
from tests.mesh.conftest import LA001, SERVICE
from tests.notifications.worker import subprocess_database_url, wait_until
from tests.plans.helpers import csv_bytes, row

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Short, so the test watches a lease lapse; renewed every third of it (mesh/lease.py).
LEASE = 3.0

# Dies the moment it would acknowledge: after download and storage, before MESH hears of it.
KILLED_POLLER = """
import os, signal, django
django.setup()
from mesh_client import MeshClient
MeshClient.acknowledge_message = lambda self, message_id: os.kill(os.getpid(), signal.SIGKILL)
from mesh.services import mesh_poll
mesh_poll()
"""

# Stops for good in the middle of a chunked download, once it has said so (the test then
# SIGKILLs it): its lease must stay renewed while it hangs there, and lapse once it is dead.
STUCK_POLLER = """
import sys, time, django
django.setup()
from mesh_client import MeshClient
retrieve_chunk = MeshClient.retrieve_message_chunk
def stuck(self, message_id, chunk_num):
    if int(chunk_num) == 2:
        open(sys.argv[1], "w").close()
        time.sleep(600)
    return retrieve_chunk(self, message_id, chunk_num)
MeshClient.retrieve_message_chunk = stuck
from mesh.services import mesh_poll
mesh_poll()
"""


def _poller_environ(mesh, lease: float) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cpis.settings.test",
        "DATABASE_URL": subprocess_database_url(),
        "MESH_URL": mesh.sandbox.url, "MESH_MAILBOX_ID": SERVICE, "MESH_PASSWORD": "password",
        "MESH_SHARED_KEY": mesh.sandbox.shared_key, "MESH_POLL_LEASE_SECONDS": str(lease),
    }  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_a_poller_killed_mid_download_is_taken_over_within_its_lease_and_the_file_applied_once(
    mesh, local_authority, settings, tmp_path
):
    settings.MESH_POLL_LEASE_SECONDS = LEASE
    rows = [row(n) for n in range(1, 41)]
    content = csv_bytes(rows)
    mesh.send(LA001, content, max_chunk_size=len(content) // 3 + 1)
    assert mesh.inbox(SERVICE)[0]["chunk-range"] == "1:3"
    marker = tmp_path / "mid-download"
    poller = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", STUCK_POLLER, str(marker)], env=_poller_environ(mesh, LEASE), cwd=BASE_DIR,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_until(marker.exists, timeout=60, what="the poller to reach the second chunk")
        # Twice the lease: only its renewals keep the others out this long.
        held_until = time.monotonic() + 2 * LEASE
        while time.monotonic() < held_until:
            assert mesh_poll().ran is False
            time.sleep(0.25)
        assert not MeshInboundMessage.objects.exists()  # nothing stored mid-download
        os.killpg(poller.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        poller.wait(timeout=10)
    finally:
        if poller.poll() is None:
            os.killpg(poller.pid, signal.SIGKILL)
            poller.wait(timeout=10)

    # Its last renewal was at most a third of the lease ago: the lease has not lapsed yet.
    assert mesh_poll().ran is False
    while True:
        # When the poll that takes over began: its own work (download, apply, answer) aside.
        took = time.monotonic() - killed_at
        if (result := mesh_poll()).ran:
            break
        assert took < LEASE + 2, "the dead poller's lease did not lapse"
        time.sleep(0.1)

    assert LEASE * 2 / 3 - 0.5 <= took <= LEASE + 1
    assert result.error == "" and len(result.received) == 1 and not result.repeated
    upload = PlanUpload.objects.get()
    assert upload.size_bytes == len(content) and Plan.objects.count() == len(rows)
    assert MeshInboundMessage.objects.get().acknowledged_at is not None
    assert mesh.inbox(SERVICE) == []
    [acknowledgement] = mesh.inbox(LA001)
    assert acknowledgement["workflowid"] == "CPIS_UPLOAD_ACK"
    assert mesh_poll().received == [] and PlanUpload.objects.count() == 1


@pytest.mark.django_db
def test_a_lease_is_released_and_renewed_only_by_its_owner(settings):
    first = Lease(POLL_LEASE_KEY, seconds=0.5)
    assert first.acquire()
    assert not Lease(POLL_LEASE_KEY, seconds=0.5).acquire()
    time.sleep(0.7)  # lapsed: its owner died, or paused past it
    assert not first.held
    second = Lease(POLL_LEASE_KEY, seconds=5)
    assert second.acquire()
    try:
        first.release()  # the late owner's release leaves the new owner's lease alone
        assert first.renew() is False
        assert not Lease(POLL_LEASE_KEY, seconds=5).acquire()
        assert second.renew() and second.held
    finally:
        second.release()
    after = Lease(POLL_LEASE_KEY, seconds=1)
    assert after.acquire()
    after.release()


@pytest.mark.django_db(transaction=True)
def test_a_poller_killed_before_acknowledging_rereads_the_message_and_applies_it_once(mesh, local_authority):
    mesh.send(LA001, csv_bytes([row(1), row(2)]))
    environ = _poller_environ(mesh, 2)
    process = subprocess.run([sys.executable, "-c", KILLED_POLLER], env=environ, cwd=BASE_DIR, timeout=120)

    assert process.returncode == -signal.SIGKILL
    assert MeshInboundMessage.objects.get().acknowledged_at is None
    assert len(mesh.inbox(SERVICE)) == 1  # still waiting on MESH
    time.sleep(2.5)  # the dead poller's lease lapses

    result = mesh_poll()

    assert result.ran and result.repeated and not result.received
    assert mesh.inbox(SERVICE) == []
    assert PlanUpload.objects.count() == 1 and Plan.objects.count() == 2
    assert MeshInboundMessage.objects.get().acknowledged_at is not None
    assert len(mesh.inbox(LA001)) == 1  # one acknowledgement


@pytest.mark.django_db
def test_a_wrong_password_is_recorded_backs_off_and_recovers(mesh, local_authority, settings):
    mesh.send(LA001, csv_bytes([row(1)]))
    settings.MESH_PASSWORD = "wrong"

    first = mesh_poll()
    second = mesh_poll()

    assert first.error.endswith("(HTTP 403)")
    state = MeshPollState.objects.get()
    assert state.consecutive_failures == 2 and state.last_success_at is None
    assert state.next_poll_at is not None  # backing off
    assert mesh_poll().ran is False  # within the back-off, no request to MESH
    assert second.ran
    settings.MESH_PASSWORD = "password"
    MeshPollState.objects.update(next_poll_at=None)
    assert mesh_poll().error == ""
    state.refresh_from_db()
    assert state.consecutive_failures == 0 and state.last_success_at is not None
    assert Plan.objects.count() == 1


@pytest.mark.django_db
def test_mesh_down_fails_the_poll_quietly(mesh, settings):
    settings.MESH_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    result = mesh_poll()
    assert result.ran and result.error.startswith("ConnectionError")
    assert MeshPollState.objects.get().last_error == result.error


def test_without_redis_the_lease_keeps_its_rules_on_the_local_cache(settings):
    # The SQLite demo (`make run` without REDIS_URL): one process, Django's local-memory cache.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    first = Lease(POLL_LEASE_KEY, seconds=0.5)
    assert first.acquire() and not Lease(POLL_LEASE_KEY, seconds=0.5).acquire()
    assert caches["default"].get(POLL_LEASE_KEY)  # in the local cache, through its own API
    assert first.renew() and first.held
    time.sleep(0.7)
    second = Lease(POLL_LEASE_KEY, seconds=5)
    assert second.acquire()
    first.release()
    assert first.renew() is False and not first.held
    assert not Lease(POLL_LEASE_KEY, seconds=5).acquire()
    second.release()
    assert Lease(POLL_LEASE_KEY, seconds=5).acquire()
