"""The LA conformance run's pages: opening one from the system's page, its report and printable
view, the supplier's page and its confirmations; bad and hostile input (never a 500) and the
audit of every change. The whole runs over MESH are in test_la_run.py."""

import pytest

from audit.models import AuditAction, AuditEvent
from mesh.models import MeshMailbox
from suppliers.la_conformance import la_conformance_run_open
from suppliers.la_scenarios import LA_SCENARIOS
from suppliers.models import LaConformanceRun, RunState, SupplierSystem, SystemKind
from tests.suppliers.mesh_la import SUPPLIER

pytestmark = pytest.mark.django_db

HOSTILE = ["", " ", "<script>alert(1)</script>", "a" * 5000, "\x00", "'; DROP TABLE plans;--", "😀" * 300]


@pytest.fixture
def admin(client_for, role_user):
    return client_for(role_user("national_admin"))


@pytest.fixture
def opened(la_system, role_user):
    return la_conformance_run_open(system=la_system, mailbox_id=SUPPLIER, by=role_user("national_admin"))


def test_a_national_admin_opens_an_la_run_and_sees_the_suppliers_link_once(admin, la_system):
    response = admin.post(f"/admin/supplier-systems/{la_system.pk}/la-runs/", {"mailbox_id": " zsuppmb01 "})
    run = LaConformanceRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/admin/la-conformance-runs/{run.pk}/"
    assert (
        run.mailbox_id == SUPPLIER
        and MeshMailbox.objects.get(mailbox_id=SUPPLIER).local_authority == run.local_authority
    )
    assert AuditEvent.objects.filter(action=AuditAction.CONFORMANCE_RUN_OPENED, detail__la_run_id=run.pk).exists()
    assert AuditEvent.objects.filter(action=AuditAction.MESH_MAILBOX_CHANGED, detail__to=SUPPLIER).exists()
    first = admin.get(response["Location"])
    assert first.status_code == 200 and b'data-testid="supplier-link"' in first.content
    link = first.content.decode().split('data-testid="supplier-link">')[1].split("<")[0]
    again = admin.get(response["Location"])
    assert b'data-testid="supplier-link"' not in again.content
    assert b"not-run" not in again.content and b'data-status="not_run"' in again.content
    supplier = admin.get(link.replace("http://testserver", ""))
    assert supplier.status_code == 200 and SUPPLIER.encode() in supplier.content


@pytest.mark.parametrize("value", [*HOSTILE, "LA001MB01"])
def test_a_bad_or_hostile_mailbox_id_is_refused(admin, la_system, local_authority, value):
    MeshMailbox.objects.create(local_authority=local_authority, mailbox_id="LA001MB01")
    response = admin.post(f"/admin/supplier-systems/{la_system.pk}/la-runs/", {"mailbox_id": value})
    assert response.status_code == 400 and not LaConformanceRun.objects.exists()


def test_only_an_la_system_with_mesh_opens_an_la_run(admin):
    epr = SupplierSystem.objects.create(
        supplier="A", product="B", version="1", kind=SystemKind.CARE_SETTING_EPR, offers_fhir=True, offers_mesh=True
    )
    response = admin.post(f"/admin/supplier-systems/{epr.pk}/la-runs/", {"mailbox_id": SUPPLIER})
    assert response.status_code == 302 and not LaConformanceRun.objects.exists()


def test_the_supplier_confirms_and_the_report_shows_it(client, opened):
    url = f"/conformance/la/{opened.access_key}/"
    data = {"tester": "Pat Tester", **{f"answer_{s.key}": "yes" for s in LA_SCENARIOS}, "note_good_file": "<b>ok</b>"}
    response = client.post(url, data)
    assert response.status_code == 302
    run = LaConformanceRun.objects.get()
    assert run.confirmed_by_name == "Pat Tester" and set(run.confirmations) == {s.key for s in LA_SCENARIOS}
    assert AuditEvent.objects.filter(action=AuditAction.CONFORMANCE_CONFIRMED, detail__la_run_id=run.pk).exists()
    page = client.get(url)
    assert page.status_code == 200 and b"&lt;b&gt;ok&lt;/b&gt;" in page.content
    # Confirmed, but nothing has happened over MESH yet: no scenario passes.
    assert b'data-status="passed"' not in page.content


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("field", ["tester", "answer_good_file", "note_rejected_rows"])
def test_bad_and_hostile_confirmations_never_500(client, opened, field, value):
    data = {"tester": "Pat", "answer_good_file": "yes", field: value}
    response = client.post(f"/conformance/la/{opened.access_key}/", data)
    assert response.status_code in (302, 400)


@pytest.mark.parametrize("key", ["short", "x" * 65, "a" * 32, "<script>", "../../etc/passwd" + "a" * 20])
def test_any_other_key_is_a_404(client, opened, key):
    assert client.get(f"/conformance/la/{key}/").status_code == 404


def test_finishing_frees_the_mailbox_and_closes_the_suppliers_form(admin, client, opened):
    run = opened.run
    response = admin.post(f"/admin/la-conformance-runs/{run.pk}/finish/")
    run.refresh_from_db()
    assert response.status_code == 302 and run.state == RunState.FINISHED
    assert not MeshMailbox.objects.filter(mailbox_id=SUPPLIER).exists()
    assert AuditEvent.objects.filter(action=AuditAction.CONFORMANCE_RUN_FINISHED, detail__la_run_id=run.pk).exists()
    page = client.get(f"/conformance/la/{opened.access_key}/")
    assert page.status_code == 200 and b"This run has finished" in page.content
    refused = client.post(f"/conformance/la/{opened.access_key}/", {"tester": "Pat", "answer_good_file": "yes"})
    assert refused.status_code == 200 and LaConformanceRun.objects.get().confirmations == {}


def test_a_run_that_has_not_passed_cannot_accredit(admin, opened, la_system):
    response = admin.post(f"/admin/la-conformance-runs/{opened.run.pk}/accredit/")
    la_system.refresh_from_db()
    assert response.status_code == 302 and la_system.state == "testing"
    assert admin.get(f"/admin/la-conformance-runs/{opened.run.pk}/print/").status_code == 200


def test_the_report_says_so_when_mesh_cannot_be_asked(admin, opened, settings):
    # The notification's MESH delivery was sent (a MESH id to track), and then MESH went away.
    from mesh.models import MeshNotificationSent
    from notifications.models import Channel, Delivery, Notification

    notification = Notification.objects.get(local_authority=opened.run.local_authority)
    delivery = Delivery.objects.create(notification=notification, channel=Channel.MESH)
    MeshNotificationSent.objects.create(
        delivery_id=delivery.pk, local_authority=opened.run.local_authority, message_id="M1"
    )
    settings.MESH_URL = ""
    response = admin.get(f"/admin/la-conformance-runs/{opened.run.pk}/")
    assert response.status_code == 200 and b'data-testid="tracking-error"' in response.content


def test_loading_the_report_again_and_again_asks_mesh_once_in_a_while(admin, opened, settings):
    from mesh.models import MeshNotificationSent
    from notifications.models import Channel, Delivery, Notification

    notification = Notification.objects.get(local_authority=opened.run.local_authority)
    delivery = Delivery.objects.create(notification=notification, channel=Channel.MESH)
    MeshNotificationSent.objects.create(
        delivery_id=delivery.pk, local_authority=opened.run.local_authority, message_id="M1"
    )
    settings.MESH_URL = ""  # each ask fails, and says so on the page
    pages = [admin.get(f"/admin/la-conformance-runs/{opened.run.pk}/") for _ in range(5)]
    asked = [b'data-testid="tracking-error"' in page.content for page in pages]
    assert asked == [True, False, False, False, False]
