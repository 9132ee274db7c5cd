"""The plan pages through HTTP: list and search, detail with history, the forms, the upload
journey, contact details, and the audit of every view and download."""

import csv
import io
import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import Role
from audit.models import AuditAction, AuditEvent
from plans import rules
from plans.models import FileCode, Plan, PlanUpload, UploadStatus
from tests.factories import PlanFactory, nhs_number_for
from tests.plans.helpers import csv_bytes, days_ago, row

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(role_user, client_for):
    return client_for(role_user("plan_manager"))


@pytest.fixture
def social_worker(role_user, client_for):
    return client_for(role_user("social_worker"))


def _children(count: int) -> list[str]:
    """Distinct NHS numbers (the factory's sequence can repeat one after an impossible number)."""
    return sorted({nhs_number_for(n) for n in range(500, 500 + count * 2)})[:count]


def _plans_for(organisation, count: int) -> None:
    for number in _children(count):
        PlanFactory(organisation=organisation, nhs_number=number)


def _audits(action) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_list_shows_only_the_las_own_plans_and_is_audited(social_worker, local_authority, other_local_authority):
    PlanFactory(organisation=local_authority, family_name="Ours")
    PlanFactory(organisation=other_local_authority, family_name="Theirs")
    response = social_worker.get("/plans/")
    assert response.status_code == 200
    assert "OURS" in response.content.decode()
    assert "THEIRS" not in response.content.decode()
    assert _audits(AuditAction.PLAN_LIST_VIEWED)[0].detail["total"] == 1


def test_list_query_count_does_not_grow_with_the_plans(social_worker, local_authority, django_assert_max_num_queries):
    _plans_for(local_authority, 30)
    with django_assert_max_num_queries(14):
        response = social_worker.get("/plans/")
    assert response.content.decode().count("/plans/") >= 25


def test_search_by_nhs_number_keeps_it_out_of_the_url_and_audits_it(social_worker, local_authority):
    wanted = PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(42), family_name="Wanted")
    PlanFactory(organisation=local_authority, family_name="Other")
    number = wanted.nhs_number
    response = social_worker.post("/plans/", {"q": f"{number[:3]} {number[3:6]} {number[6:]}"})
    assert response.status_code == 302
    assert number not in response["Location"]
    page = social_worker.get(response["Location"]).content.decode()
    assert "WANTED" in page and "OTHER" not in page
    assert _audits(AuditAction.PLAN_LIST_VIEWED)[-1].nhs_number == number


def _searched(client, **data) -> str:
    """The results page a search opens: the POST redirects to the search's URL."""
    response = client.post("/plans/", {"q": "", "plan_type": "", "status": "", **data})
    assert response.status_code == 302
    return client.get(response["Location"]).content.decode()


def test_search_by_name_type_and_status(social_worker, local_authority):
    PlanFactory(organisation=local_authority, family_name="Brown", given_names="Ella")
    PlanFactory(organisation=local_authority, family_name="Brown", given_names="Finn", looked_after=True, ended=True)
    PlanFactory(organisation=local_authority, family_name="Green", given_names="Ella")
    page = _searched(social_worker, q="brown")
    assert "Ella" in page and "Finn" in page and "GREEN" not in page
    page = _searched(social_worker, q="ella brown")
    assert "Ella" in page and "Finn" not in page
    page = _searched(social_worker, plan_type="LAC", status="ended")
    assert "Finn" in page and "Ella" not in page
    assert _audits(AuditAction.PLAN_LIST_VIEWED)[-1].detail["search"] == ""
    response = social_worker.post("/plans/", {"clear": "1"})
    assert response["Location"] == "/plans/"
    assert "3 plans" in social_worker.get("/plans/").content.decode()


def test_type_and_status_are_the_urls_query_and_a_bookmark_runs_the_search(social_worker, local_authority):
    PlanFactory(organisation=local_authority, family_name="Brown", looked_after=True, ended=True)
    PlanFactory(organisation=local_authority, family_name="Green", looked_after=True)
    PlanFactory(organisation=local_authority, family_name="Black")
    response = social_worker.post("/plans/", {"q": "", "plan_type": "LAC", "status": "ended"})
    assert response["Location"] == "/plans/?plan_type=LAC&status=ended"
    # Opened straight from the address bar or a bookmark, with no search in the session.
    page = social_worker.get("/plans/?plan_type=LAC&status=ended").content.decode()
    assert "BROWN" in page and "GREEN" not in page and "BLACK" not in page
    assert (_selected(page, "plan_type"), _selected(page, "status")) == (["LAC"], ["ended"])


def test_a_name_never_goes_in_the_url_and_a_shared_link_asks_for_it_again(
    social_worker, local_authority, role_user, client_for
):
    PlanFactory(organisation=local_authority, family_name="Brown", looked_after=True)
    PlanFactory(organisation=local_authority, family_name="Green", looked_after=True)
    response = social_worker.post("/plans/", {"q": "brown", "plan_type": "LAC", "status": ""})
    location = response["Location"]
    assert "brown" not in location.lower() and "q=" not in location
    assert set(parse_qs(urlsplit(location).query)) == {"plan_type", "child"}
    page = social_worker.get(location).content.decode()
    assert "BROWN" in page and "GREEN" not in page
    # The same link in a colleague's session: the type is kept, the name is not, and it says so.
    colleague = client_for(role_user(Role.SOCIAL_WORKER, local_authority))
    shared = colleague.get(location).content.decode()
    assert "BROWN" in shared and "GREEN" in shared and 'data-testid="child-lost"' in shared
    # A name put in the URL by hand is never searched by.
    crafted = colleague.get("/plans/?q=brown").content.decode()
    assert "GREEN" in crafted and 'value="brown"' not in crafted


def test_pages_of_a_search_keep_its_query(social_worker, local_authority):
    for n in range(27):
        PlanFactory(organisation=local_authority, family_name=f"Smith{n:02}", looked_after=True)
    PlanFactory(organisation=local_authority, family_name="Jones")
    response = social_worker.post("/plans/", {"q": "smith", "plan_type": "LAC", "status": "open"})
    first = social_worker.get(response["Location"]).content.decode()
    link = unescape(re.search(r'href="(\?[^"]*page=2)"', first)[1])
    assert "plan_type=LAC" in link and "status=open" in link and "child=" in link and "smith" not in link
    second = social_worker.get("/plans/" + link).content.decode()
    assert "SMITH26" in second and "JONES" not in second


@pytest.mark.parametrize(
    "query",
    ["status=bogus", "plan_type=%00", "status=" + "x" * 5000, "child=%F0%9F%92%A5", "page=-1&status=open",
     "plan_type=CPP&plan_type=LAC", "child=../../../etc/passwd"],
)  # fmt: skip
def test_a_hostile_search_url_is_refused_with_a_message_never_a_500(social_worker, query):
    response = social_worker.get(f"/plans/?{query}")
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert "There is a problem" in response.content.decode()


def test_search_with_an_invalid_nhs_number_says_so(social_worker):
    response = social_worker.post("/plans/", {"q": "999 000 0019"})
    assert response.status_code == 400
    assert "Enter a valid 10-digit NHS number, or a name" in response.content.decode()


def test_list_is_paginated(social_worker, local_authority):
    _plans_for(local_authority, 27)
    first = social_worker.get("/plans/").content.decode()
    assert "Page 1 of 2" in first
    second = social_worker.get("/plans/?page=2").content.decode()
    assert second.count('href="/plans/') - second.count('href="/plans/?') >= 2


def test_detail_shows_the_plan_and_its_history_and_is_audited(manager, local_authority, role_user):
    plan = PlanFactory(organisation=local_authority, family_name="Okoro", la_reference="<b>REF</b>")
    plan.changes.create(source="upload", action="updated", changed_by_name="Dee Jones",
                        changes={"family_name": ["Okafor", "Okoro"]})  # fmt: skip
    response = manager.get(f"/plans/{plan.pk}/")
    page = response.content.decode()
    assert "OKORO" in page
    assert "Dee Jones" in page and "Okafor → Okoro" in page
    assert "&lt;b&gt;REF&lt;/b&gt;" in page
    assert "Shown to clinicians" in page
    event = _audits(AuditAction.PLAN_VIEWED)[-1]
    assert (event.nhs_number, event.detail) == (plan.nhs_number, {"plan_id": plan.pk})


def test_social_worker_reads_but_sees_no_edit_buttons(social_worker, local_authority):
    plan = PlanFactory(organisation=local_authority)
    page = social_worker.get(f"/plans/{plan.pk}/").content.decode()
    assert "Change details" not in page and "Withdraw" not in page
    assert social_worker.post(f"/plans/{plan.pk}/withdraw/").status_code == 403
    plan.refresh_from_db()
    assert not plan.withdrawn


def test_create_a_plan_on_the_form(manager, local_authority):
    nhs = nhs_number_for(9)
    response = manager.post("/plans/new/", {
        "nhs_number": nhs, "family_name": "Doe", "given_names": "Jay", "date_of_birth": "01/02/2019",
        "plan_type": "UCPP", "start_date": days_ago(10), "end_date": "", "expected_due_date": "",
        "la_reference": "",
    })  # fmt: skip
    assert response.status_code == 400
    assert "Enter the expected due date" in response.content.decode()
    response = manager.post("/plans/new/", {
        "nhs_number": nhs, "family_name": "Doe", "given_names": "Jay", "date_of_birth": "01/02/2019",
        "plan_type": "CPP", "start_date": days_ago(10), "end_date": "", "expected_due_date": "",
        "la_reference": "R1",
    })  # fmt: skip
    plan = Plan.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/plans/{plan.pk}/"
    assert (plan.organisation, plan.date_of_birth.isoformat()) == (local_authority, "2019-02-01")


def test_form_errors_are_summarised(manager):
    response = manager.post("/plans/new/", {"nhs_number": "123", "family_name": "A\tB", "date_of_birth": "31/02/2019"})
    page = response.content.decode()
    assert response.status_code == 400
    assert "There is a problem" in page
    assert "Enter a valid 10-digit NHS number" in page
    assert "Family name must not contain control characters" in page
    assert "Date of birth must be a real date" in page
    assert "Select the plan type" in page
    assert "<title>Error: Add a plan" in page


def test_edit_end_and_withdraw_on_the_forms(manager, local_authority):
    plan = PlanFactory(organisation=local_authority, family_name="Old")
    form = manager.get(f"/plans/{plan.pk}/edit/").content.decode()
    # The NHS.UK date input: day, month and year boxes holding the plan's date.
    born = plan.date_of_birth
    for part, value in (("day", born.day), ("month", born.month), ("year", born.year)):
        assert f'name="date_of_birth_{part}" type="text" value="{value}"' in re.sub(r"\s+", " ", form)
    response = manager.post(f"/plans/{plan.pk}/edit/", {
        "family_name": "New", "given_names": plan.given_names, "date_of_birth": plan.date_of_birth.strftime("%d/%m/%Y"),
        "end_date": "", "la_reference": "",
    })  # fmt: skip
    assert response.status_code == 302
    response = manager.post(f"/plans/{plan.pk}/end/", {"end_date": (plan.start_date - timedelta(1)).isoformat()})
    assert rules.END_BEFORE_START.message in response.content.decode()
    manager.post(f"/plans/{plan.pk}/end/", {"end_date": timezone.localdate().strftime("%d/%m/%Y")})
    assert manager.get(f"/plans/{plan.pk}/withdraw/").status_code == 200
    assert manager.post(f"/plans/{plan.pk}/withdraw/").status_code == 302
    plan.refresh_from_db()
    assert (plan.family_name, plan.end_date, plan.withdrawn) == ("New", timezone.localdate(), True)
    assert [c.action for c in plan.changes.all()] == ["withdrawn", "ended", "updated"]
    # A withdrawn plan cannot be changed again.
    assert manager.post(f"/plans/{plan.pk}/edit/", {"family_name": "X"}).status_code == 302
    plan.refresh_from_db()
    assert plan.family_name == "New"


def test_upload_journey_through_the_pages(manager, local_authority, django_capture_on_commit_callbacks):
    PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(1), start_date=timezone.localdate() - timedelta(100),
                date_of_birth=timezone.localdate() - timedelta(3000))  # fmt: skip
    content = csv_bytes([
        row(1, date_of_birth=days_ago(3000), end_date=days_ago(1)), row(2), row(3, nhs_number="=1+1"),
    ])  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = manager.post("/plans/uploads/", {"file": SimpleUploadedFile("plans.csv", content)})
    upload = PlanUpload.objects.get()
    assert response["Location"] == f"/plans/uploads/{upload.pk}/"
    preview = manager.get(response["Location"]).content.decode()
    assert "Nothing has changed yet" in preview and "Confirm and apply" in preview
    assert Plan.objects.count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        assert manager.post(f"/plans/uploads/{upload.pk}/confirm/").status_code == 302
    ack = manager.get(f"/plans/uploads/{upload.pk}/").content.decode()
    assert "Acknowledgement CPF03" in ack
    assert "CPR07" in ack
    upload.refresh_from_db()
    assert upload.status == UploadStatus.APPLIED and upload.confirmed_by is not None
    assert Plan.objects.count() == 2

    download = manager.get(f"/plans/uploads/{upload.pk}/rejected-rows.csv")
    assert download["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert rows[1][:3] == ["4", "CPR07", "invalid_nhs_number"]
    assert rows[1][4] == "'=1+1"
    assert _audits(AuditAction.PLAN_UPLOAD_REJECTIONS_DOWNLOADED)[0].detail == {"upload_id": upload.pk}
    assert len(_audits(AuditAction.PLAN_UPLOAD_VIEWED)) == 2

    # Confirming again (a second tab, a double click) changes nothing.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        manager.post(f"/plans/uploads/{upload.pk}/confirm/")
    assert not callbacks


def test_progress_endpoint_reports_json(manager, local_authority):
    upload = PlanUpload.objects.create(organisation=local_authority, filename="x.csv", status=UploadStatus.QUEUED)
    data = manager.get(f"/plans/uploads/{upload.pk}/progress/").json()
    assert data["status"] == "queued" and data["finished"] is False
    page = manager.get(f"/plans/uploads/{upload.pk}/").content.decode()
    assert "<progress" in page and "upload-progress.js" in page


def test_cancel_a_preview(manager, local_authority, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        manager.post("/plans/uploads/", {"file": SimpleUploadedFile("plans.csv", csv_bytes([row(1)]))})
    upload = PlanUpload.objects.get()
    assert manager.post(f"/plans/uploads/{upload.pk}/cancel/").status_code == 302
    upload.refresh_from_db()
    assert upload.status == UploadStatus.CANCELLED
    assert not Plan.objects.exists()


def test_an_unreadable_file_gets_its_acknowledgement_page(manager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        manager.post("/plans/uploads/", {"file": SimpleUploadedFile("plans.xlsx", b"PK\x03\x04\x00\x00")})
    upload = PlanUpload.objects.get()
    assert upload.file_code == FileCode.CPF01
    page = manager.get(f"/plans/uploads/{upload.pk}/").content.decode()
    assert "CPF01" in page and "binary data" in page and "No plans were changed" in page


def test_upload_without_a_file_shows_the_error(manager):
    response = manager.post("/plans/uploads/", {})
    assert response.status_code == 400
    assert "Select a CSV file to upload" in response.content.decode()


def test_contact_details_form(manager, local_authority):
    page = manager.get("/plans/contacts/").content.decode()
    assert local_authority.emergency_duty_phone in page
    response = manager.post(
        "/plans/contacts/", {"office_hours_phone": "", "emergency_duty_phone": "", "team_mailbox": "x"}
    )
    assert response.status_code == 400
    assert "Enter the emergency duty phone number" in response.content.decode()
    manager.post("/plans/contacts/", {"office_hours_phone": "0113 496 0002", "emergency_duty_phone": "0113 496 0998",
                                      "team_mailbox": "mash@la.example"})  # fmt: skip
    local_authority.refresh_from_db()
    assert (local_authority.emergency_duty_phone, local_authority.team_mailbox) == ("0113 496 0998", "mash@la.example")
    assert _audits(AuditAction.LA_CONTACTS_UPDATED)


def test_home_page_links_to_the_plan_pages(manager, social_worker):
    assert "/plans/uploads/" in manager.get("/").content.decode()
    page = social_worker.get("/").content.decode()
    assert "/plans/" in page and "/plans/uploads/" not in page


def test_the_forms_showing_a_plan_are_audited_as_views(manager, local_authority):
    plan = PlanFactory(organisation=local_authority)
    for page in ("edit", "end", "withdraw"):
        assert manager.get(f"/plans/{plan.pk}/{page}/").status_code == 200
    events = _audits(AuditAction.PLAN_VIEWED)
    assert [e.detail["page"] for e in events] == ["edit", "end", "withdraw"]
    assert {e.nhs_number for e in events} == {plan.nhs_number}


def test_list_shows_whether_clinicians_see_each_plan_at_the_365_day_boundary(social_worker, local_authority):
    today = timezone.localdate()
    PlanFactory(organisation=local_authority, family_name="Shown", start_date=today - timedelta(900),
                end_date=today - timedelta(365))  # fmt: skip
    PlanFactory(organisation=local_authority, family_name="Gone", start_date=today - timedelta(900),
                end_date=today - timedelta(366))  # fmt: skip
    page = social_worker.get("/plans/").content.decode()
    gone_row = page[page.index("GONE") :].split("</tr>")[0]
    shown_row = page[page.index("SHOWN") :].split("</tr>")[0]
    assert gone_row.rstrip().endswith("No</td>")
    assert shown_row.rstrip().endswith("Yes</td>")
    gone = Plan.objects.get(family_name="Gone")
    assert "Not shown to clinicians" in social_worker.get(f"/plans/{gone.pk}/").content.decode()


def test_another_las_plan_manager_cannot_change_our_plans_or_see_our_uploads(
    local_authority, other_local_authority, role_user, client_for
):
    theirs = client_for(role_user("plan_manager", other_local_authority))
    plan = PlanFactory(organisation=local_authority, family_name="Ours")
    upload = PlanUpload.objects.create(organisation=local_authority, filename="x.csv", status=UploadStatus.PREVIEW)
    assert theirs.post(f"/plans/{plan.pk}/withdraw/").status_code == 404
    assert theirs.post(f"/plans/{plan.pk}/end/", {"end_date": days_ago(1)}).status_code == 404
    assert theirs.post(f"/plans/{plan.pk}/edit/", {"family_name": "Theirs"}).status_code == 404
    assert theirs.post(f"/plans/uploads/{upload.pk}/confirm/").status_code == 404
    assert theirs.get(f"/plans/uploads/{upload.pk}/rejected-rows.csv").status_code == 404
    plan.refresh_from_db()
    upload.refresh_from_db()
    assert (plan.family_name, plan.end_date, plan.withdrawn, upload.status) == ("Ours", None, False, "preview")
    assert "OURS" not in theirs.get("/plans/").content.decode()


def _upload_and_confirm(client, content: bytes, capture) -> PlanUpload:
    with capture(execute=True):
        client.post("/plans/uploads/", {"file": SimpleUploadedFile("plans.csv", content)})
    upload = PlanUpload.objects.order_by("-id").first()
    with capture(execute=True):
        client.post(f"/plans/uploads/{upload.pk}/confirm/")
    upload.refresh_from_db()
    return upload


def _download(client, upload) -> bytes:
    return b"".join(client.get(f"/plans/uploads/{upload.pk}/rejected-rows.csv").streaming_content)


def test_the_rejected_rows_file_uploads_again_as_it_is_once_corrected(
    manager, local_authority, django_capture_on_commit_callbacks
):
    first = _upload_and_confirm(
        manager, csv_bytes([row(1), row(2, start_date="31/02/2026")]), django_capture_on_commit_callbacks
    )
    assert first.counts["rejected"] == 1
    report = _download(manager, first).decode()

    # The LA corrects the date in the report and sends the report itself back.
    corrected = report.replace("31/02/2026", days_ago(50)).encode()
    second = _upload_and_confirm(manager, corrected, django_capture_on_commit_callbacks)

    assert second.file_code != FileCode.CPF01, second.file_message
    assert second.counts["accepted"] == 1 and second.counts["rejected"] == 0
    assert Plan.objects.filter(organisation=local_authority).count() == 2


def test_a_report_of_a_report_has_the_report_columns_once(manager, local_authority, django_capture_on_commit_callbacks):
    first = _upload_and_confirm(
        manager, csv_bytes([row(1), row(2, start_date="31/02/2026")]), django_capture_on_commit_callbacks
    )
    # Sent back uncorrected: rejected again, and its own report must not double the columns.
    second = _upload_and_confirm(manager, _download(manager, first), django_capture_on_commit_callbacks)
    rows = list(csv.reader(io.StringIO(_download(manager, second).decode())))

    assert rows[0][:5] == ["line_number", "code", "reason", "message", "nhs_number"]
    assert rows[0].count("line_number") == 1
    assert len(rows[1]) == len(rows[0]) and rows[1][4] == nhs_number_for(2)


def test_rejected_rows_show_the_nhs_number_and_name_sent(manager, local_authority, django_capture_on_commit_callbacks):
    upload = _upload_and_confirm(
        manager,
        csv_bytes([row(1), row(2, given_names="Ada", family_name="Byron", start_date="31/02/2026")]),
        django_capture_on_commit_callbacks,
    )
    page = manager.get(f"/plans/uploads/{upload.pk}/").content.decode()
    number = nhs_number_for(2)

    assert f"{number[:3]} {number[3:6]} {number[6:]}" in page
    assert "Ada Byron" in page


@pytest.mark.parametrize("family_name", ["Stone, jr", "Smith (Jones)", "Kowalska/Nowak", "<b>Bold</b>"])
def test_a_family_name_with_punctuation_is_kept_as_given_and_escaped(manager, local_authority, family_name):
    response = manager.post("/plans/new/", {
        "nhs_number": nhs_number_for(9), "family_name": family_name, "given_names": "Jay",
        "date_of_birth": "01/02/2019", "plan_type": "CPP", "start_date": days_ago(10),
    })  # fmt: skip
    plan = Plan.objects.get()
    assert response.status_code == 302 and plan.family_name == family_name
    page = manager.get(f"/plans/{plan.pk}/").content.decode()
    assert "<b>Bold</b>" not in page


def test_history_says_values_as_people_read_them(manager, local_authority):
    plan = PlanFactory(organisation=local_authority)
    upload = PlanUpload.objects.create(organisation=local_authority, filename="x.csv", status=UploadStatus.APPLIED)
    plan.changes.create(source="upload", upload=upload, action="ended", changed_by_name="Dee Jones",
                        changes={"end_date": [None, "2026-11-30"], "withdrawn": [False, True]})  # fmt: skip

    page = manager.get(f"/plans/{plan.pk}/").content.decode()

    assert "End date: Not set → 30 November 2026" in page
    assert "Withdrawn: No → Yes" in page
    assert "(none)" not in page and "File upload 1" not in page
    assert f'From <a href="/plans/uploads/{upload.pk}/">an uploaded file</a>' in page


def test_one_plan_matches_the_search(social_worker, local_authority):
    PlanFactory(organisation=local_authority, family_name="Zebedee")
    response = social_worker.post("/plans/", {"q": "Zebedee"})
    page = social_worker.get(response["Location"]).content.decode()
    assert "1 plan matches your search" in page


def test_plan_detail_links_a_social_worker_to_the_childs_visits(social_worker, manager, local_authority):
    plan = PlanFactory(organisation=local_authority)
    link = f"/children/plan/{plan.pk}/"
    page = social_worker.get(f"/plans/{plan.pk}/").content.decode()
    assert link in page
    assert social_worker.get(link).status_code == 200
    # The plan manager has no child view: no link that would only be refused.
    assert link not in manager.get(f"/plans/{plan.pk}/").content.decode()


def test_a_plan_is_added_with_the_nhs_date_input_boxes(manager, local_authority):
    start = timezone.localdate() - timedelta(days=10)
    response = manager.post("/plans/new/", {
        "nhs_number": nhs_number_for(9), "family_name": "Doe", "given_names": "Jay",
        "date_of_birth_day": "1", "date_of_birth_month": "2", "date_of_birth_year": "2019",
        "plan_type": "CPP", "start_date_day": start.day, "start_date_month": start.month,
        "start_date_year": start.year,
    })  # fmt: skip
    assert response.status_code == 302
    assert Plan.objects.get().date_of_birth.isoformat() == "2019-02-01"

    bad = manager.post("/plans/new/", {"date_of_birth_day": "31", "date_of_birth_month": "2",
                                       "date_of_birth_year": "2019"})  # fmt: skip
    page = bad.content.decode()
    assert "Date of birth must be a real date, like 15 3 2019" in page
    assert 'href="#id_date_of_birth"' in page and 'id="id_date_of_birth"' in page


def test_the_preview_lists_the_children_each_change_affects_a_page_at_a_time(
    manager, local_authority, django_capture_on_commit_callbacks
):
    PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(1), given_names="Ending", family_name="Held",
                start_date=timezone.localdate() - timedelta(100), date_of_birth=timezone.localdate() - timedelta(3000))  # fmt: skip
    rows = [row(1, given_names="Ending", family_name="Held", date_of_birth=days_ago(3000), end_date=days_ago(1))]
    rows += [row(n, given_names=f"New{n}", family_name="Child") for n in range(10, 70)]
    with django_capture_on_commit_callbacks(execute=True):
        manager.post("/plans/uploads/", {"file": SimpleUploadedFile("plans.csv", csv_bytes(rows))})
    upload = PlanUpload.objects.get()

    first = re.sub(r"\s+", " ", manager.get(f"/plans/uploads/{upload.pk}/").content.decode())
    second = re.sub(r"\s+", " ", manager.get(f"/plans/uploads/{upload.pk}/", {"page": 2}).content.decode())

    assert "Children this file changes (61)" in first
    # Ends first: the change a plan manager most needs to see.
    assert first.index("<strong>End</strong>") < first.index("<strong>Add</strong>")
    number = nhs_number_for(1)
    assert f"{number[:3]} {number[3:6]} {number[6:]}" in first and "Ending Held" in first
    assert first.count("<strong>Add</strong>") == 49 and second.count("<strong>Add</strong>") == 11

    with django_capture_on_commit_callbacks(execute=True):
        manager.post(f"/plans/uploads/{upload.pk}/confirm/")
    # Applied: the preview's copy of the children's details goes with the file.
    assert not upload.changes_previewed.exists()


def test_the_upload_page_offers_an_empty_template_with_every_column(manager):
    from plans.upload_rows import COLUMNS

    assert 'href="/plans/uploads/template.csv"' in manager.get("/plans/uploads/").content.decode()
    rows = list(
        csv.reader(io.StringIO(b"".join(manager.get("/plans/uploads/template.csv").streaming_content).decode()))
    )
    assert rows == [list(COLUMNS)]


def _selected(page: str, name: str) -> list[str]:
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select
    return re.findall(r'<option value="([^"]*)" selected>', select.group(1))


def test_the_search_form_shows_a_search_only_while_it_is_chosen(social_worker, local_authority):
    """The form's fields are remembered renderings (cpis.jinja2.rendered_once): one search's
    choices must never show on another's page, and a typed name is never remembered."""
    from cpis import jinja2 as cpis_jinja2

    PlanFactory(organisation=local_authority, family_name="Zebedee", looked_after=True, ended=True)
    plain_before = social_worker.get("/plans/").content.decode()
    searched = _searched(social_worker, q="zebedee", plan_type="LAC", status="ended")
    social_worker.post("/plans/", {"clear": "1"})
    plain_after = social_worker.get("/plans/").content.decode()

    assert (_selected(searched, "plan_type"), _selected(searched, "status")) == (["LAC"], ["ended"])
    assert 'name="q" type="text" value="zebedee"' in searched
    for plain in (plain_before, plain_after):
        assert (_selected(plain, "plan_type"), _selected(plain, "status")) == ([""], [""])
        assert 'value="zebedee"' not in plain
    assert not [html for html in cpis_jinja2._rendered.values() if "zebedee" in html]


def test_each_row_links_to_its_own_plan_and_names_its_type(social_worker, local_authority):
    plans = [
        PlanFactory(organisation=local_authority, family_name="Aardvark"),
        PlanFactory(organisation=local_authority, family_name="Badger", looked_after=True),
        PlanFactory(organisation=local_authority, family_name="Coypu", unborn=True),
    ]
    page = social_worker.get("/plans/").content.decode()
    rows = re.findall(r'<tr role="row" class="nhsuk-table__row">(.*?)</tr>', page, re.S)
    assert len(rows) == 3
    for plan, html in zip(plans, rows, strict=True):
        assert f'href="/plans/{plan.pk}/"' in html and plan.family_name.upper() in html
        assert f'<abbr title="{plan.get_plan_type_display()}">{plan.plan_type}</abbr>' in html


def test_acknowledgement_leads_with_plain_words_and_the_next_step(
    manager, local_authority, django_capture_on_commit_callbacks
):
    content = csv_bytes([row(2), row(3), row(4, nhs_number="=1+1")])
    with django_capture_on_commit_callbacks(execute=True):
        manager.post("/plans/uploads/", {"file": SimpleUploadedFile("plans.csv", content)})
    upload = PlanUpload.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        manager.post(f"/plans/uploads/{upload.pk}/confirm/")

    ack = re.sub(r"\s+", " ", manager.get(f"/plans/uploads/{upload.pk}/").content.decode())

    headline = re.search(r'<h2 data-testid="acknowledgement-headline">(.*?)</h2>', ack).group(1)
    assert headline == "2 plans added, 1 row needs correcting"
    # The codes stay, as secondary text after the words.
    assert "Acknowledgement CPF03" in ack and "(CPR07)" in ack
    assert ack.index("acknowledgement-headline") < ack.index("Acknowledgement CPF03")
    steps = re.search(r'data-testid="next-steps">(.*?)</ol>', ack).group(1)
    assert 'href="/plans/uploads/">Upload the corrected file</a>' in steps
    assert "Rows accepted (CPR06)" not in ack


def test_a_queued_upload_says_it_is_waiting_to_start_not_for_a_worker(manager, local_authority):
    upload = PlanUpload.objects.create(
        organisation=local_authority, filename="plans.csv", status=UploadStatus.QUEUED, columns=["nhs_number"]
    )
    assert manager.get(f"/plans/uploads/{upload.pk}/progress/").json()["phase"] == "Waiting to start"


def test_ending_a_looked_after_child_record_reads_as_ending_the_record(manager, local_authority):
    plan = PlanFactory(organisation=local_authority, looked_after=True)
    page = manager.get(f"/plans/{plan.pk}/end/").content.decode()
    assert "<h1>End the looked after child record</h1>" in page
    cpp = PlanFactory(organisation=local_authority)
    assert "<h1>End the child protection plan</h1>" in manager.get(f"/plans/{cpp.pk}/end/").content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {"q": "\x00"},
        {"q": "x" * 5000},
        {"q": "999 000 00"},
        {"q": "9" * 40},
        {"q": "<script>alert(1)</script>", "status": "ended"},
        {"plan_type": "<b>", "status": "%00"},
        {"q": "\u202eSmith", "plan_type": "CPP"},
    ],
)
def test_a_hostile_search_is_refused_with_a_message_or_searched_never_a_500(social_worker, data):
    response = social_worker.post("/plans/", {"q": "", "plan_type": "", "status": "", **data})
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        # Nothing typed in the box reaches the URL.
        assert "q=" not in response["Location"] and "script" not in response["Location"]
        assert social_worker.get(response["Location"]).status_code == 200
    else:
        page = response.content.decode()
        assert "There is a problem" in page and "<script>alert" not in page
