"""Reads that may lag from a real streaming replica (issue 31 item 3): a primary and a hot
standby the test makes itself (initdb, pg_basebackup; tests/postgres_servers.py), this process's
`default` connection on that primary and `replica` on the standby, as DATABASE_REPLICA_URL
configures it. With the standby's replay paused, the progress pages and the audit search show
what the standby holds while the check still finds the plan written a moment ago; too far
behind, or down, the standby is passed over and the pages read the primary.
"""

import copy
import os
import subprocess
import sys
import uuid

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from django.urls import reverse

from accounts.models import Organisation, Role
from audit.models import AuditAction, AuditEvent
from audit.services import audit_record
from cpis import replica
from notifications.models import Notification
from tests.conftest import signed_in
from tests.factories import OrganisationFactory, PlanFactory, nhs_number_for, user_with_role
from tests.postgres_servers import StreamingPair, default_database_at

pytestmark = pytest.mark.django_db(transaction=True)

PROGRESS = reverse("reports:progress_organisations")


@pytest.fixture
def pair(transactional_db):
    servers = StreamingPair()
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def on_the_pair(pair, monkeypatch):
    """`default` on the pair's primary, `replica` on its standby, for this test."""
    with default_database_at(pair.primary_port, NAME=pair.DBNAME, USER=pair.USER):
        standby = copy.deepcopy(connections["default"].settings_dict)
        standby.update(PORT=pair.standby_port, OPTIONS={"connect_timeout": 2})
        monkeypatch.setitem(settings.DATABASES, replica.REPLICA, standby)
        monkeypatch.setattr(settings, "DATABASE_REPLICA_MAX_LAG", 3600.0)
        monkeypatch.setattr(settings, "DATABASE_REPLICA_RETRY_SECONDS", 30.0)
        replica.replica_forget_state()
        # Opened here: Django's test case refuses a first connection to an alias it was not told
        # of when the test began (the pair did not exist then).
        connections[replica.REPLICA].connect()
        try:
            yield pair
        finally:
            connections[replica.REPLICA].close()
            del connections[replica.REPLICA]
            replica.replica_forget_state()


def _national_admin():
    national = OrganisationFactory(national=True, ods_code="X26")
    return signed_in(Client(), user_with_role(Role.NATIONAL_ADMIN, national))


def _check(client, nhs_number: str):
    return client.post(reverse("attendances:check"), {"nhs_number": nhs_number, "check_token": str(uuid.uuid4())})


def test_lagging_reads_come_from_the_replica_and_the_check_from_the_primary(on_the_pair):
    admin = _national_admin()
    OrganisationFactory(name="Replicated Minor Injury Unit", ods_code="RRP01", setting_type="MIU")
    la = OrganisationFactory(local_authority=True, name="Northshire County Council", ods_code="LA001")
    care_setting = OrganisationFactory(name="Northshire General ED", ods_code="RDE01")
    clinician = signed_in(Client(), user_with_role(Role.CLINICIAN, care_setting))
    on_the_pair.wait_caught_up()
    on_the_pair.pause_replay()

    OrganisationFactory(name="Written After The Pause UTC", ods_code="RWA01", setting_type="UTC")
    plan = PlanFactory(organisation=la, nhs_number=nhs_number_for(7))
    audit_record(action=AuditAction.LOGIN, detail={"marker": "after-the-pause"})

    page = admin.get(PROGRESS).content.decode()
    assert "Replicated Minor Injury Unit" in page
    assert "Written After The Pause UTC" not in page  # the standby has not replayed it yet
    # The check never reads the replica: the plan written after the pause alerts now.
    response = _check(clinician, plan.nhs_number)
    assert "CP-IS alert" in response.content.decode()
    assert Notification.objects.filter(nhs_number=plan.nhs_number).count() == 1
    # The pages' own writes (the audit of the search) went to the primary, or they would fail:
    # a hot standby refuses every write.
    assert admin.get(reverse("audit:events"), {"action": AuditAction.LOGIN}).status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.AUDIT_SEARCHED).exists()

    on_the_pair.resume_replay()
    on_the_pair.wait_caught_up()
    assert "Written After The Pause UTC" in admin.get(PROGRESS).content.decode()


def test_a_replica_too_far_behind_is_passed_over(on_the_pair, settings):
    admin = _national_admin()
    on_the_pair.wait_caught_up()
    on_the_pair.pause_replay()
    OrganisationFactory(name="Written After The Pause UTC", ods_code="RWA01", setting_type="UTC")
    settings.DATABASE_REPLICA_MAX_LAG = 0.0
    assert replica.replica_alias() == "default"
    assert "Written After The Pause UTC" in admin.get(PROGRESS).content.decode()


def test_a_replica_down_falls_back_to_the_primary(on_the_pair):
    admin = _national_admin()
    OrganisationFactory(name="Replicated Minor Injury Unit", ods_code="RRP01", setting_type="MIU")
    on_the_pair.wait_caught_up()
    assert replica.replica_alias() == replica.REPLICA
    on_the_pair.stop_standby()
    OrganisationFactory(name="Written While The Replica Is Down", ods_code="RWD01", setting_type="UTC")

    response = admin.get(PROGRESS)
    assert response.status_code == 200
    assert "Written While The Replica Is Down" in response.content.decode()
    # Marked down: the next page does not wait for the standby's connection timeout again.
    assert replica.replica_alias() == "default"
    assert admin.get(reverse("audit:events_csv")).status_code == 200


def test_the_audit_export_streams_from_the_replica(on_the_pair):
    admin = _national_admin()
    audit_record(action=AuditAction.LOGIN, detail={"marker": "replicated"})
    on_the_pair.wait_caught_up()
    on_the_pair.pause_replay()
    audit_record(action=AuditAction.LOGIN, detail={"marker": "after-the-pause"})
    body = b"".join(admin.get(reverse("audit:events_csv")).streaming_content).decode()
    assert "replicated" in body
    assert "after-the-pause" not in body


def test_the_replica_setting_adds_a_mirrored_alias_and_routes_nothing_by_default():
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "r = s.DATABASES['replica']; print(r['PORT'], r['TEST']['MIRROR'], s.DATABASE_ROUTERS, "
        "s.DATABASES['default']['DISABLE_SERVER_SIDE_CURSORS'])"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cpis.settings.test",
        "DATABASE_REPLICA_URL": "postgres://reader@replica.internal:5433/cpis",
        "DATABASE_DISABLE_SERVER_SIDE_CURSORS": "true",
    }
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["5433", "default", "['cpis.replica.ReplicaRouter']", "True"]
    # Outside a marked view every read and write names the primary.
    router = replica.ReplicaRouter()
    assert router.db_for_read(Organisation) == "default"
    assert router.db_for_write(Organisation) == "default"
