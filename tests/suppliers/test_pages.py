"""The register's pages, the organisation page's section, the public list and the supplier's
page: what they show, bad and hostile input (never a 500), and the audit of every change."""

import pytest
from django.utils import timezone

from accounts.models import Role
from audit.models import AuditAction, AuditEvent
from plans.models import PlanUpload, UploadStatus
from suppliers.models import AccreditationState, SupplierSystem, SystemKind, SystemUse
from tests.factories import OrganisationFactory, user_with_role

pytestmark = pytest.mark.django_db

HOSTILE = ["", " ", "<script>alert(1)</script>", "a" * 5000, "\x00", "'; DROP TABLE plans;--", "😀" * 300]


@pytest.fixture
def admin(client_for, role_user):
    return client_for(role_user("national_admin"))


def _fields(**extra):
    return {"supplier": "Acme", "product": "Acme EPR", "version": "1.0", "kind": "epr", "offers_fhir": "on", **extra}


def test_a_national_admin_adds_a_system_audited(admin):
    response = admin.post("/admin/supplier-systems/new/", _fields())
    system = SupplierSystem.objects.get()
    assert response.status_code == 302 and system.state == AccreditationState.TESTING and system.offers_fhir
    assert AuditEvent.objects.filter(action=AuditAction.SUPPLIER_SYSTEM_ADDED, detail__system_id=system.pk).exists()
    assert admin.get(f"/admin/supplier-systems/{system.pk}/").status_code == 200


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("field", ["supplier", "product", "version", "kind"])
def test_bad_and_hostile_system_fields_are_refused_or_kept_as_text(admin, field, value):
    response = admin.post("/admin/supplier-systems/new/", _fields(**{field: value}))
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert getattr(SupplierSystem.objects.get(), field) == value.strip()


def test_a_system_needs_an_interface(admin):
    fields = _fields()
    del fields["offers_fhir"]
    response = admin.post("/admin/supplier-systems/new/", fields)
    assert response.status_code == 400 and b"at least one interface" in response.content


@pytest.mark.parametrize("reason", HOSTILE)
def test_withdrawing_needs_a_reason_and_takes_any_text(admin, reason):
    system = SupplierSystem.objects.create(
        supplier="A", product="B", version="1", kind=SystemKind.CARE_SETTING_EPR, offers_fhir=True
    )
    response = admin.post(f"/admin/supplier-systems/{system.pk}/withdraw/", {"reason": reason})
    system.refresh_from_db()
    if reason.strip() and "\x00" not in reason and len(reason) <= 1000:
        assert response.status_code == 302 and system.state == AccreditationState.WITHDRAWN
    else:
        assert response.status_code == 400 and system.state == AccreditationState.TESTING


def test_the_organisation_page_sets_the_systems_it_uses(admin, care_setting):
    system = SupplierSystem.objects.create(
        supplier="A", product="B", version="1", kind=SystemKind.CARE_SETTING_EPR, offers_fhir=True
    )
    page = admin.get(f"/admin/organisations/{care_setting.pk}/")
    assert b"Supplier systems" in page.content and b"Save the systems it uses" in page.content
    url = f"/admin/organisations/{care_setting.pk}/supplier-systems/"
    assert admin.post(url, {"systems": [str(system.pk)]}).status_code == 302
    assert SystemUse.objects.filter(organisation=care_setting, system=system).exists()
    assert AuditEvent.objects.filter(action=AuditAction.SUPPLIER_SYSTEM_USE_CHANGED).count() == 1
    for hostile in (["999999"], ["x"], ["<b>"], [str(system.pk)] * 50):
        assert admin.post(url, {"systems": hostile}).status_code == 302
    assert admin.post(url, {}).status_code == 302
    assert not SystemUse.objects.exists()


def test_the_public_page_lists_accredited_systems_with_live_organisations_only(client):
    accredited = SupplierSystem.objects.create(
        supplier="Acme",
        product="Acme EPR",
        version="2",
        kind=SystemKind.CARE_SETTING_EPR,
        offers_fhir=True,
        state=AccreditationState.ACCREDITED,
        accredited_on="2026-11-02",
        accredited_version="2",
    )
    SupplierSystem.objects.create(
        supplier="Beta", product="Beta Case", version="1", kind=SystemKind.LA_CASE_MANAGEMENT, offers_upload=True
    )
    live_la = OrganisationFactory(local_authority=True, team_mailbox="team@la.example")
    user_with_role(Role.SOCIAL_WORKER, live_la)
    PlanUpload.objects.create(
        organisation=live_la,
        filename="plans.csv",
        status=UploadStatus.APPLIED,
        applied_at=timezone.now(),
        counts={"rows": 100, "accepted": 100},
    )
    waiting_la = OrganisationFactory(local_authority=True)
    for organisation in (live_la, waiting_la):
        SystemUse.objects.create(system=accredited, organisation=organisation)
    page = client.get("/supplier-systems/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Acme Acme EPR" in text and "Beta Case" not in text and "FHIR API" in text
    # One of its two organisations is live (contact details, a trained social worker, a good upload).
    assert '<td class="nhsuk-table__cell nhsuk-table__cell--numeric">1</td>' in text
    assert "@" not in text.split("<main")[1].split("</main>")[0]


def test_the_supplier_page_shows_the_script_and_takes_confirmations(client, opened):
    page = client.get(f"/conformance/{opened.access_key}/")
    assert page.status_code == 200
    for number in opened.run.numbers.values():
        assert number.encode() in page.content
    assert opened.clinician_token.encode() not in page.content
    bad = client.post(f"/conformance/{opened.access_key}/", {"tester": "", "answer_on_plan": "maybe"})
    assert bad.status_code == 400
    for hostile in HOSTILE:
        response = client.post(
            f"/conformance/{opened.access_key}/", {"tester": hostile, "answer_on_plan": "yes", "note_on_plan": hostile}
        )
        assert response.status_code in (302, 400)
    good = client.post(f"/conformance/{opened.access_key}/", {"tester": "Tess", "answer_two_las": "no"})
    assert good.status_code == 302
    opened.run.refresh_from_db()
    assert opened.run.confirmations["two_las"] == {"answer": "no", "note": ""}
    assert AuditEvent.objects.filter(action=AuditAction.CONFORMANCE_CONFIRMED).exists()


def test_the_admin_opens_a_run_sees_its_secrets_once_and_prints_the_report(admin, opened, system):
    response = admin.post(f"/admin/supplier-systems/{system.pk}/runs/")
    assert response.status_code == 302
    first = admin.get(response["Location"])
    assert b"cpis_test-" in first.content and b"/conformance/" in first.content
    again = admin.get(response["Location"])
    assert b"cpis_test-" not in again.content
    printable = admin.get(f"/admin/conformance-runs/{opened.run.pk}/print/")
    assert printable.status_code == 200 and b"conformance report" in printable.content
    # Not passed: accrediting is refused, and the run stays open.
    admin.post(f"/admin/conformance-runs/{opened.run.pk}/accredit/")
    system.refresh_from_db()
    assert system.state == AccreditationState.TESTING
    admin.post(f"/admin/conformance-runs/{opened.run.pk}/finish/")
    opened.run.refresh_from_db()
    assert not opened.run.is_open and opened.run.clinician_token.revoked_at is not None
