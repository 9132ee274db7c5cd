"""Operators' MESH state: a national admin sees every LA's and sets their mailboxes (audited);
an LA's admin sees their own LA's only."""

import pytest
from django.urls import reverse

from accounts.models import Role
from audit.models import AuditAction, AuditEvent
from mesh.models import MeshMailbox
from mesh.services import mesh_poll
from tests.mesh.conftest import LA001
from tests.plans.helpers import csv_bytes, row

pytestmark = pytest.mark.django_db


def test_a_national_admin_sets_an_las_mailbox_and_it_is_audited(role_user, client_for, local_authority):
    client = client_for(role_user(Role.NATIONAL_ADMIN))
    url = reverse("operations:mesh_mailbox_edit", kwargs={"organisation_id": local_authority.pk})

    response = client.post(url, {"mailbox_id": " la001mb09 "})

    assert response.status_code == 302
    assert MeshMailbox.objects.get(local_authority=local_authority).mailbox_id == "LA001MB09"
    event = AuditEvent.objects.get(action=AuditAction.MESH_MAILBOX_CHANGED)
    assert event.detail == {"local_authority": local_authority.ods_code, "from": "", "to": "LA001MB09"}
    client.post(url, {"mailbox_id": ""})
    assert not MeshMailbox.objects.exists()


@pytest.mark.parametrize("value", ["LA 001", "<b>", "A" * 21, "LA001MB01\x00"])
def test_a_malformed_mailbox_id_is_refused_with_a_message(role_user, client_for, local_authority, value):
    client = client_for(role_user(Role.NATIONAL_ADMIN))
    url = reverse("operations:mesh_mailbox_edit", kwargs={"organisation_id": local_authority.pk})
    response = client.post(url, {"mailbox_id": value})
    assert response.status_code == 400 and b"There is a problem" in response.content
    assert not MeshMailbox.objects.exists()


def test_another_las_mailbox_is_refused(role_user, client_for, local_authority, other_local_authority):
    MeshMailbox.objects.create(local_authority=other_local_authority, mailbox_id="LA002MB01")
    client = client_for(role_user(Role.NATIONAL_ADMIN))
    url = reverse("operations:mesh_mailbox_edit", kwargs={"organisation_id": local_authority.pk})
    response = client.post(url, {"mailbox_id": "la002mb01"})
    assert response.status_code == 400 and b"already has this mailbox" in response.content


def test_the_pages_show_each_las_mesh_state(mesh, role_user, client_for, local_authority, other_local_authority):
    mesh.send(LA001, csv_bytes([row(1)]))
    mesh_poll()
    national = client_for(role_user(Role.NATIONAL_ADMIN)).get(reverse("operations:service_health"))
    assert national.status_code == 200
    page = national.content.decode()
    assert LA001 in page and "(CPF02)" in page and "Last successful poll" in page
    assert other_local_authority.name in page

    la_admin = client_for(role_user(Role.ORG_ADMIN, local_authority)).get(reverse("operations:la_deliveries"))
    mine = la_admin.content.decode()
    assert LA001 in mine and "(CPF02)" in mine and "Sent" in mine
    assert other_local_authority.name not in mine
    assert "Change" not in mine.split('data-testid="mesh-local-authorities"')[1]


def test_metrics_show_the_poll(mesh, client, settings, local_authority):
    from tests.operations.test_metrics import TOKEN, scrape

    settings.METRICS_TOKEN = TOKEN
    mesh.send(LA001, csv_bytes([row(1)]))
    mesh_poll()
    before = scrape(client)
    assert before[("cpis_mesh_poll_last_success_timestamp_seconds", ())] > 0
    assert before[("cpis_mesh_poll_consecutive_failures", ())] == 0
    assert before[("cpis_mesh_oldest_unacknowledged_age_seconds", ())] == 0
    assert before[("cpis_mesh_reports_recent", ())] == 0
    settings.MESH_PASSWORD = "wrong"
    mesh_poll()
    assert scrape(client)[("cpis_mesh_poll_consecutive_failures", ())] == 1


def test_healthz_counts_the_mesh_pool_only_once_mesh_is_configured(client, settings, mesh_sandbox):
    body = client.get(reverse("healthz")).json()
    assert "mesh" not in body["pools"] and "mesh" not in body["oldest_undelivered_seconds"]
    settings.MESH_URL, settings.MESH_MAILBOX_ID = mesh_sandbox.url, "X26CPIS01"
    body = client.get(reverse("healthz")).json()
    assert body["pools"]["mesh"] == "in-process" and body["oldest_undelivered_seconds"]["mesh"] == 0
