"""National admins: organisations (by form and by CSV import) and their administrators."""

import csv
import html
import io
import re
from dataclasses import dataclass

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Invitation, Membership, Organisation, OrganisationKind, Region, Role
from audit.models import AuditAction, AuditEvent, AuditOutcome

pytestmark = pytest.mark.django_db


@pytest.fixture
def national_admin(role_user):
    return role_user(Role.NATIONAL_ADMIN)


@pytest.fixture
def client(client_for, national_admin):
    return client_for(national_admin)


LA_FORM = {
    "ods_code": "la777",
    "name": "Westmarch Council",
    "kind": OrganisationKind.LOCAL_AUTHORITY,
    "setting_type": "",
    "phone": "",
    "office_hours_phone": "0113 496 0777",
    "emergency_duty_phone": "0113 496 0778",
    "team_mailbox": "mash@westmarch.example",
}


def test_national_admin_creates_an_organisation(client, national_admin):
    response = client.post(reverse("administration:organisation_create"), LA_FORM)
    assert response.status_code == 302
    organisation = Organisation.objects.get(ods_code="LA777")
    assert organisation.emergency_duty_phone == "0113 496 0778"
    event = AuditEvent.objects.get(action=AuditAction.ORGANISATION_CREATED)
    assert event.user == national_admin and event.organisation == organisation


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"emergency_duty_phone": ""}, "emergency_duty_phone", "emergency-duty"),
        ({"setting_type": "ED"}, "setting_type", "Only a care setting has a setting type"),
        ({"ods_code": "x!"}, "ods_code", "ODS code of 3 to 10"),
        ({"kind": "hospital"}, "kind", "Select a kind we know"),
    ],
)
def test_organisation_form_refuses_what_the_rules_forbid(client, change, field, message):
    response = client.post(reverse("administration:organisation_create"), {**LA_FORM, **change})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Organisation.objects.filter(name="Westmarch Council").exists()


def test_care_setting_needs_a_setting_type(client):
    data = {**LA_FORM, "kind": OrganisationKind.CARE_SETTING, "emergency_duty_phone": ""}
    response = client.post(reverse("administration:organisation_create"), data)
    assert response.status_code == 400 and "Select the setting type" in response.content.decode()


def test_national_admin_edits_an_organisation_and_the_change_is_audited(client, local_authority):
    url = reverse("administration:organisation_edit", kwargs={"organisation_id": local_authority.pk})
    assert client.get(url).status_code == 200
    data = {
        **LA_FORM,
        "ods_code": local_authority.ods_code,
        "name": local_authority.name,
        "team_mailbox": "new-box@la.example",
    }
    assert client.post(url, data).status_code == 302
    local_authority.refresh_from_db()
    assert local_authority.team_mailbox == "new-box@la.example"
    event = AuditEvent.objects.get(action=AuditAction.ORGANISATION_UPDATED)
    assert "team_mailbox" in event.detail["fields"]


def test_kind_cannot_change_once_the_organisation_has_users(client, care_setting, role_user):
    role_user(Role.CLINICIAN, care_setting)
    url = reverse("administration:organisation_edit", kwargs={"organisation_id": care_setting.pk})
    response = client.post(url, {**LA_FORM, "ods_code": care_setting.ods_code})
    assert response.status_code == 400 and "cannot change the kind" in response.content.decode()


# --- Appointing and removing org admins ----------------------------------------------------------


def appoint(client, organisation, email, full_name="Ada Admin"):
    url = reverse("administration:org_admin_appoint", kwargs={"organisation_id": organisation.pk})
    return client.post(url, {"email": email, "full_name": full_name})


def test_appointing_an_existing_user_grants_org_admin(client, role_user, care_setting):
    clinician = role_user(Role.CLINICIAN, care_setting)
    assert appoint(client, care_setting, clinician.email).status_code == 302
    assert Membership.objects.filter(user=clinician, organisation=care_setting, role=Role.ORG_ADMIN).exists()
    assert AuditEvent.objects.filter(action=AuditAction.ROLE_GRANTED, organisation=care_setting).exists()


def test_appointing_someone_new_sends_an_admin_invitation(client, local_authority, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert appoint(client, local_authority, "ada@la.example").status_code == 302
    invitation = Invitation.objects.get()
    assert invitation.roles == [Role.ORG_ADMIN] and invitation.organisation == local_authority
    assert mail.outbox[0].to == ["ada@la.example"]


def test_appointing_with_a_bad_email_shows_the_error(client, local_authority):
    response = appoint(client, local_authority, "not-an-email")
    assert response.status_code == 400 and "Enter an email address" in response.content.decode()


def test_removing_an_org_admin_when_another_remains(client, role_user, care_setting):
    first = role_user(Role.ORG_ADMIN, care_setting)
    role_user(Role.ORG_ADMIN, care_setting)
    url = reverse("administration:org_admin_remove", kwargs={"organisation_id": care_setting.pk, "user_id": first.pk})
    assert client.post(url).status_code == 302
    assert not Membership.objects.filter(user=first, role=Role.ORG_ADMIN).exists()


def test_removing_the_last_org_admin_is_refused(client, role_user, care_setting):
    only = role_user(Role.ORG_ADMIN, care_setting)
    url = reverse("administration:org_admin_remove", kwargs={"organisation_id": care_setting.pk, "user_id": only.pk})
    response = client.post(url)
    assert response.status_code == 400 and "last administrator" in response.content.decode()
    assert Membership.objects.filter(user=only, role=Role.ORG_ADMIN).exists()
    # The refused attempt is audited as denied, with a reason code rather than the message.
    attempt = AuditEvent.objects.get(action=AuditAction.ROLE_REMOVED)
    assert attempt.outcome == AuditOutcome.DENIED
    assert attempt.detail == {"reason": "last_admin", "subject_user_id": only.pk, "role": Role.ORG_ADMIN}


def test_org_admin_cannot_reach_national_pages(client_for, role_user, care_setting):
    org_admin = role_user(Role.ORG_ADMIN, care_setting)
    response = appoint(client_for(org_admin), care_setting, "friend@example.nhs.uk")
    assert response.status_code == 403
    assert not Invitation.objects.exists()


# --- CSV import ----------------------------------------------------------------------------------


def upload(client, text: str | bytes, name="organisations.csv"):
    content = text.encode() if isinstance(text, str) else text
    return client.post(
        reverse("administration:organisation_import"), {"file": SimpleUploadedFile(name, content, "text/csv")}
    )


ROW = re.compile(
    r'<tr data-outcome="(?P<outcome>\w+)"><td>(?P<line>\d+)</td><td>(?P<ods>[^<]*)</td><td>[^<]*</td><td>(?P<reason>[^<]*)</td>'
)


@dataclass
class Report:
    """The import report as the national admin reads it on the page."""

    file_code: str
    rows: list[tuple[int, str, str, str]]
    applied: bool


def report_of(response) -> Report:
    page = html.unescape(response.content.decode())
    code = re.search(r'data-testid="file-code">(CPF0\d)', page)
    rows = [(int(m["line"]), m["ods"], m["outcome"], m["reason"]) for m in ROW.finditer(page)]
    return Report(code.group(1) if code else "", rows, "Organisations imported" in page)


def confirm(client):
    digest = client.session["organisation_import"]["digest"]
    return client.post(reverse("administration:organisation_import_confirm"), {"digest": digest})


GOOD_AND_BAD = (
    "ODS_Code,Name,Kind,Setting_Type,Phone,Office_Hours_Phone,Emergency_Duty_Phone,Team_Mailbox\n"
    "RXX01,Riverside ED,care setting,ED,0113 496 0500,,,\n"
    "LA900,Hilltop Council,LA,,,0113 496 0900,0113 496 0901,team@hilltop.example\n"
    "LA901,No Emergency Phone Council,local_authority,,,0113 496 0902,,\n"
    "bad code!,Bad Code Trust,care_setting,ED,,,,\n"
    "RXX02,Unknown Type Unit,care_setting,spaceship,,,,\n"
    "RXX01,Riverside ED again,care_setting,ED,,,,\n"
    "RXX03,,care_setting,MIU,,,,\n"
)


def test_import_reports_each_row_and_applies_only_after_confirmation(client, national_admin):
    response = upload(client, GOOD_AND_BAD)
    assert response.status_code == 200
    report = report_of(response)
    assert report.file_code == "CPF03"
    outcomes = {(line, ods): (outcome, reason) for line, ods, outcome, reason in report.rows}
    assert outcomes[(2, "RXX01")] == ("create", "")
    assert outcomes[(3, "LA900")] == ("create", "")
    assert outcomes[(4, "LA901")][0] == "reject" and "emergency-duty" in outcomes[(4, "LA901")][1]
    assert outcomes[(5, "BAD CODE!")][0] == "reject" and "ods_code" in outcomes[(5, "BAD CODE!")][1]
    assert outcomes[(6, "RXX02")][0] == "reject" and "setting type" in outcomes[(6, "RXX02")][1]
    assert outcomes[(7, "RXX01")] == ("reject", "duplicate ODS code in the file")
    assert outcomes[(8, "RXX03")][0] == "reject" and "name" in outcomes[(8, "RXX03")][1]
    # Nothing is written by the check.
    assert not Organisation.objects.filter(ods_code__in=["RXX01", "LA900"]).exists()

    applied = confirm(client)
    assert applied.status_code == 200 and report_of(applied).applied
    assert set(
        Organisation.objects.filter(ods_code__in=["RXX01", "LA900", "LA901"]).values_list("ods_code", flat=True)
    ) == {
        "RXX01",
        "LA900",
    }
    assert Organisation.objects.get(ods_code="LA900").kind == OrganisationKind.LOCAL_AUTHORITY
    summary = AuditEvent.objects.get(action=AuditAction.ORGANISATIONS_IMPORTED)
    assert summary.user == national_admin
    assert summary.detail == {"file_code": "CPF03", "created": 2, "updated": 0, "rejected": 5}
    assert AuditEvent.objects.filter(action=AuditAction.ORGANISATION_CREATED).count() == 2


def test_rejected_rows_download_with_their_reasons_and_neutralised_cells(client):
    upload(
        client,
        "ods_code,name,kind,setting_type\nRAA01,Good Unit,care_setting,ED\nRAA02,=cmd(),LA,\n",
    )
    response = client.get(reverse("administration:organisation_import_rejected_csv"))
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["ods_code", "name", "kind", "setting_type", "reason"]
    assert len(rows) == 2
    # The rejected row, as uploaded, with a formula-looking name neutralised and the reason added.
    assert rows[1][:4] == ["RAA02", "'=cmd()", "LA", ""]
    assert rows[1][4].startswith("line 3: ") and "emergency-duty" in rows[1][4]


def test_rejected_rows_download_without_an_upload_goes_back_to_the_form(client):
    response = client.get(reverse("administration:organisation_import_rejected_csv"))
    assert response.status_code == 302 and response.url == reverse("administration:organisation_import")


def test_confirming_twice_imports_once(client):
    upload(client, "ods_code,name,kind,setting_type\nRYY01,Y Unit,care_setting,UTC\n")
    digest = client.session["organisation_import"]["digest"]
    url = reverse("administration:organisation_import_confirm")
    assert client.post(url, {"digest": digest}).status_code == 200
    second = client.post(url, {"digest": digest})
    assert second.status_code == 302
    assert AuditEvent.objects.filter(action=AuditAction.ORGANISATIONS_IMPORTED).count() == 1


def test_importing_the_same_file_again_changes_nothing(client):
    text = "ods_code,name,kind,setting_type\nRYY01,Y Unit,care_setting,UTC\n"
    upload(client, text)
    confirm(client)
    report = report_of(upload(client, text))
    assert [row[2] for row in report.rows] == ["unchanged"]
    confirm(client)
    assert not AuditEvent.objects.filter(action=AuditAction.ORGANISATION_UPDATED).exists()


def test_import_updates_a_known_ods_code_and_keeps_columns_left_out(client, local_authority):
    text = f"ods_code,name,kind\n{local_authority.ods_code},Renamed Council,local authority\n"
    report = report_of(upload(client, text))
    assert [row[2] for row in report.rows] == ["update"] and report.file_code == "CPF02"
    confirm(client)
    local_authority.refresh_from_db()
    assert local_authority.name == "Renamed Council"
    # The file had no phone columns; the emergency-duty phone stays.
    assert local_authority.emergency_duty_phone == "0113 496 0999"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"name,kind\nX,care_setting\n", "no header row with the columns ods_code"),
        ("ods_code,name,kind\nRZZ01,Caf\u00e9 Unit,care_setting\n".encode("latin-1"), "not UTF-8"),
        (b"", "The selected file is empty"),
    ],
)
def test_unreadable_file_is_refused_whole(client, content, message):
    response = upload(client, content)
    assert message in response.content.decode()
    assert "organisation_import" not in client.session


def test_file_with_only_bad_rows_is_cpf04_and_cannot_be_confirmed(client):
    response = upload(client, "ods_code,name,kind\n!!,Nope,care_setting\n")
    assert report_of(response).file_code == "CPF04"
    assert "Confirm import" not in response.content.decode()


def test_utf8_with_bom_is_accepted(client):
    report = report_of(upload(client, "\ufeffods_code,name,kind,setting_type\nRBB01,BOM Unit,care_setting,WIC\n"))
    assert report.file_code == "CPF02"


def test_formula_cells_are_stored_as_text_not_run(client):
    # A name like "=HYPERLINK(...)" is stored as typed; every CSV the service writes neutralises it.
    upload(client, 'ods_code,name,kind,setting_type\nRFF01,"=HYPERLINK(""http://x"")",care_setting,ED\n')
    confirm(client)
    assert Organisation.objects.get(ods_code="RFF01").name == '=HYPERLINK("http://x")'


@pytest.mark.django_db(transaction=True)
def test_appointment_email_failure_is_shown_and_leaves_no_live_link(client_for, role_user, local_authority, settings):
    settings.EMAIL_BACKEND = "tests.administration.test_invitations.BrokenEmailBackend"
    response = appoint(client_for(role_user(Role.NATIONAL_ADMIN)), local_authority, "ada@la.example")
    assert response.status_code == 503 and "could not send the invitation email" in response.content.decode()
    assert not Invitation.objects.pending().exists()


def test_organisation_form_and_page_show_no_placeholder_values(client_for, role_user):
    from tests.factories import OrganisationFactory

    client = client_for(role_user("national_admin"))
    form = client.get("/admin/organisations/new/").content.decode()
    assert "---------" not in form
    organisation = OrganisationFactory(phone="")
    page = client.get(f"/admin/organisations/{organisation.pk}/").content.decode()
    assert "Telephone" in page and "Not recorded" in page and ">None<" not in page


def test_organisations_can_be_searched_by_name_or_ods_code(client_for, role_user):
    from tests.factories import OrganisationFactory

    OrganisationFactory(name="Riverside Minor Injury Unit", ods_code="RIV01")
    OrganisationFactory(name="Hilltop Urgent Treatment Centre", ods_code="HIL01")
    client = client_for(role_user("national_admin"))
    by_name = client.get("/admin/organisations/", {"q": "riverside"}).content.decode()
    by_code = client.get("/admin/organisations/", {"q": "hil01"}).content.decode()
    assert "Riverside Minor Injury Unit" in by_name and "Hilltop" not in by_name
    assert "Hilltop Urgent Treatment Centre" in by_code and "Riverside" not in by_code


# --- Regions -------------------------------------------------------------------------------------


def test_national_admin_sets_and_changes_an_organisations_region(client, national_admin):
    form = client.get(reverse("administration:organisation_create")).content.decode()
    assert "North East and Yorkshire" in form and "Not set" in form
    assert (
        client.post(reverse("administration:organisation_create"), {**LA_FORM, "region": "london"}).status_code == 302
    )
    organisation = Organisation.objects.get(ods_code="LA777")
    assert organisation.region == Region.LONDON
    edit = reverse("administration:organisation_edit", kwargs={"organisation_id": organisation.pk})
    assert client.post(edit, {**LA_FORM, "region": "south_west"}).status_code == 302
    organisation.refresh_from_db()
    assert organisation.region == Region.SOUTH_WEST
    event = AuditEvent.objects.get(action=AuditAction.ORGANISATION_UPDATED)
    assert event.detail["fields"] == ["region"]
    page = client.get(reverse("administration:organisation_detail", kwargs={"organisation_id": organisation.pk}))
    assert "South West" in page.content.decode()
    # Blank is allowed; an unknown region is refused.
    assert client.post(edit, {**LA_FORM, "region": ""}).status_code == 302
    refused = client.post(edit, {**LA_FORM, "region": "scotland"})
    assert refused.status_code == 400 and "Select one of the seven NHS England regions" in refused.content.decode()


def test_import_reads_a_region_by_name_or_value(client):
    upload(
        client,
        "ods_code,name,kind,setting_type,region,emergency_duty_phone\n"
        "RXX01,Riverside ED,care setting,ED,North East and Yorkshire,\n"
        "LA900,Hilltop Council,LA,,east_of_england,0113 496 0901\n"
        "LA901,Nowhere Council,LA,,Atlantis,0113 496 0901\n",
    )
    confirm(client)
    assert Organisation.objects.get(ods_code="RXX01").region == Region.NORTH_EAST_YORKSHIRE
    assert Organisation.objects.get(ods_code="LA900").region == Region.EAST_OF_ENGLAND
    assert not Organisation.objects.filter(ods_code="LA901").exists()


def test_organisations_list_shows_the_region_and_filters_by_it(client):
    from tests.factories import OrganisationFactory

    OrganisationFactory(name="Northern Unit", region=Region.NORTH_WEST)
    OrganisationFactory(name="Capital Unit", region=Region.LONDON)
    OrganisationFactory(name="Unplaced Unit")
    OrganisationFactory(name="Closed Unit", region=Region.LONDON, is_active=False)
    page = client.get("/admin/organisations/").content.decode()
    assert "North West" in page and "London" in page
    london = client.get("/admin/organisations/", {"region": "london"}).content.decode()
    assert "Capital Unit" in london and "Closed Unit" in london and "Northern Unit" not in london
    assert "2 organisations match your search." in london
    unset = client.get("/admin/organisations/", {"region": "none"}).content.decode()
    assert "Unplaced Unit" in unset and "Capital Unit" not in unset
    active = client.get("/admin/organisations/", {"region": "london", "status": "active"}).content.decode()
    assert "Capital Unit" in active and "Closed Unit" not in active
    # An unknown region is ignored rather than failing the page.
    assert "Northern Unit" in client.get("/admin/organisations/", {"region": "<b>"}).content.decode()


def test_organisations_list_leaves_out_the_conformance_runs_synthetic_organisations(client):
    from tests.factories import OrganisationFactory

    OrganisationFactory(name="Real Unit")
    OrganisationFactory(name="Conformance Unit", is_synthetic=True)
    page = client.get("/admin/organisations/").content.decode()
    assert "Real Unit" in page and "Conformance Unit" not in page
    assert "Conformance Unit" not in client.get("/admin/organisations/", {"q": "Conformance"}).content.decode()


def test_organisations_list_is_paged_and_its_pages_keep_the_search(client, monkeypatch):
    from administration.views import organisations as views
    from tests.factories import OrganisationFactory

    monkeypatch.setattr(views, "ORGANISATIONS_PAGE_SIZE", 2)
    for name in ("Alpha Unit", "Bravo Unit", "Charlie Unit"):
        OrganisationFactory(name=name, region=Region.LONDON)
    OrganisationFactory(name="Delta Unit", region=Region.NORTH_WEST)
    first = client.get("/admin/organisations/", {"region": "london"}).content.decode()
    assert "3 organisations match your search: 1 to 2 shown." in first
    assert "Alpha Unit" in first and "Bravo Unit" in first and "Charlie Unit" not in first
    assert 'href="?page=2&amp;region=london"' in first
    second = client.get("/admin/organisations/", {"region": "london", "page": "2"}).content.decode()
    assert "Charlie Unit" in second and "Alpha Unit" not in second and "Delta Unit" not in second
    # A page past the end, or not a number, shows the last or first page rather than failing.
    assert "Charlie Unit" in client.get("/admin/organisations/", {"region": "london", "page": "99"}).content.decode()
    assert "Alpha Unit" in client.get("/admin/organisations/", {"region": "london", "page": "x"}).content.decode()
