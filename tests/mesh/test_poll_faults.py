"""The poll's faults: killed between download and acknowledgement, MESH down, a wrong password."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from mesh.models import MeshInboundMessage, MeshPollState
from mesh.services import mesh_poll
from plans.models import Plan, PlanUpload
from tests.mesh.conftest import LA001, SERVICE
from tests.plans.helpers import csv_bytes, row

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# Dies the moment it would acknowledge: after download and storage, before MESH hears of it.
KILLED_POLLER = """
import os, signal, django
django.setup()
from mesh_client import MeshClient
MeshClient.acknowledge_message = lambda self, message_id: os.kill(os.getpid(), signal.SIGKILL)
from mesh.services import mesh_poll
mesh_poll()
"""


@pytest.mark.django_db(transaction=True)
def test_a_poller_killed_before_acknowledging_rereads_the_message_and_applies_it_once(mesh, local_authority):
    mesh.send(LA001, csv_bytes([row(1), row(2)]))
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cpis.settings.test",
        "DATABASE_URL": "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**connection.settings_dict),
        "MESH_URL": mesh.sandbox.url, "MESH_MAILBOX_ID": SERVICE, "MESH_PASSWORD": "password",
        "MESH_SHARED_KEY": mesh.sandbox.shared_key, "MESH_POLL_LOCK_SECONDS": "2",
    }  # fmt: skip
    process = subprocess.run([sys.executable, "-c", KILLED_POLLER], env=environ, cwd=BASE_DIR, timeout=120)

    assert process.returncode == -signal.SIGKILL
    assert MeshInboundMessage.objects.get().acknowledged_at is None
    assert len(mesh.inbox(SERVICE)) == 1  # still waiting on MESH
    time.sleep(2.5)  # the dead poller's lock runs out

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
