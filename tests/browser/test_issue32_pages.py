"""Issue 32's changed pages in Chromium at 1280 and 390 px: the searches that are their URL
(never with a child's name or NHS number in it), the grouped audit actions, and the
confirmation panels after an upload is applied and an access review recorded. Each page fits
the phone, is axe clean and is photographed (var/screenshots/issue32-*.png)."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import Role
from audit.models import AuditAction, AuditEvent
from plans.models import PlanUpload, UploadStatus
from plans.uploads import plan_upload_analyse, plan_upload_apply, plan_upload_receive
from tests.browser.conftest import assert_accessible, screenshot
from tests.factories import PlanFactory
from tests.plans.helpers import csv_bytes, row

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def _at_both_widths(page, name: str) -> None:
    """The page as it is (no reload: a panel shows once) at each width: it fits, axe is clean."""
    for width, size in WIDTHS.items():
        page.set_viewport_size(size)
        scroll_width, client_width = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert scroll_width <= client_width, f"{name} at {width}: {scroll_width} px wide at {client_width}"
        assert_accessible(page)
        screenshot(page, f"issue32-{name}-{width}")


def test_a_plan_search_by_name_opens_its_url_without_the_name(
    signed_in_page, live_server, role_user, local_authority, csp_violations
):
    PlanFactory(organisation=local_authority, family_name="Quartermaine", looked_after=True)
    PlanFactory(organisation=local_authority, family_name="Underwood", looked_after=True)
    PlanFactory(organisation=local_authority, family_name="Quartermaine", given_names="Other")
    page = signed_in_page(role_user(Role.PLAN_MANAGER, local_authority))
    page.goto(live_server.url + "/plans/")
    page.get_by_label("NHS number or name").fill("quartermaine")
    page.get_by_label("Plan type").select_option("LAC")
    page.get_by_role("button", name="Search", exact=True).click()

    expect(page.get_by_test_id("plan-count")).to_have_text("1 plan matches your search.")
    query = parse_qs(urlsplit(page.url).query)
    assert query.keys() == {"plan_type", "child"} and query["plan_type"] == ["LAC"]
    assert "quartermaine" not in page.url.lower()
    expect(page.get_by_label("NHS number or name")).to_have_value("quartermaine")
    _at_both_widths(page, "plan-search")

    # The same URL in another tab of the same session is the same search; the type alone is
    # what a bookmark shared with a colleague keeps.
    page.goto(live_server.url + "/plans/?plan_type=LAC")
    expect(page.get_by_test_id("plan-count")).to_have_text("2 plans match your search.")
    assert not csp_violations


def test_an_audit_search_by_nhs_number_opens_its_url_without_the_number(
    signed_in_page, live_server, role_user, care_setting, csp_violations
):
    clinician = role_user(Role.CLINICIAN, care_setting)
    plan = PlanFactory()
    AuditEvent.objects.create(user=clinician, organisation=care_setting, action=AuditAction.PLAN_VIEWED,
                              nhs_number=plan.nhs_number)  # fmt: skip
    AuditEvent.objects.create(user=clinician, organisation=care_setting, action=AuditAction.LOGIN)
    page = signed_in_page(role_user(Role.NATIONAL_ADMIN))
    page.goto(live_server.url + reverse("audit:events"))
    action = page.get_by_label("Action")
    # Grouped by area, not one list of ~100.
    groups = action.locator("optgroup").evaluate_all("groups => groups.map(g => g.label)")
    assert "Plans and uploads" in groups and "Single sign-on and passkeys" in groups and "Other" not in groups
    expect(action.locator('optgroup[label="Plans and uploads"] option[value="plan_viewed"]')).to_have_count(1)
    page.get_by_label("NHS number").fill(plan.nhs_number)
    action.select_option(AuditAction.PLAN_VIEWED)
    page.get_by_role("button", name="Search", exact=True).click()

    expect(page.get_by_role("heading", level=2, name="Events found, newest first")).to_be_visible()
    expect(page.get_by_test_id("audit-table").locator("tbody tr")).to_have_count(1)
    assert "action=plan_viewed" in page.url and "child=" in page.url
    assert plan.nhs_number not in page.url and not re.search(r"\d{10}", page.url)
    csv_link = page.get_by_role("link", name="Download these events as CSV").get_attribute("href")
    assert "action=plan_viewed" in csv_link and plan.nhs_number not in csv_link
    _at_both_widths(page, "audit-search")
    assert not csp_violations


def test_the_panel_confirms_an_applied_upload(signed_in_page, live_server, role_user, local_authority, csp_violations):
    manager = role_user(Role.PLAN_MANAGER, local_authority)
    upload = plan_upload_receive(
        organisation=local_authority, by=manager, filename="northshire.csv",
        file=SimpleUploadedFile("northshire.csv", csv_bytes([row(1), row(2), row(3, nhs_number="123")])),
    )  # fmt: skip
    plan_upload_analyse(upload_id=upload.pk)
    page = signed_in_page(manager)
    page.goto(live_server.url + reverse("plans:upload_detail", args=[upload.pk]))
    expect(page.get_by_role("heading", level=1)).to_have_text("Check the upload")
    page.get_by_role("button", name="Confirm and apply").click()
    page.wait_for_load_state()
    if PlanUpload.objects.get(pk=upload.pk).status != UploadStatus.APPLIED:
        # Not applied in the web process (the broker took it): what the worker does. The page's
        # progress bar sees it and reloads. (That the panel waits for the apply is a unit test's.)
        expect(page.get_by_test_id("confirmation-panel")).to_have_count(0)
        plan_upload_apply(upload_id=upload.pk)
    panel = page.get_by_test_id("confirmation-panel")
    expect(panel).to_be_visible(timeout=15_000)
    expect(panel.get_by_role("heading", level=2)).to_have_text("File applied")
    expect(panel).to_contain_text("2 plans added, 1 row needs correcting.")
    expect(page.get_by_test_id("next-steps")).to_contain_text("Upload the corrected file")
    _at_both_widths(page, "upload-applied")
    page.reload()
    expect(page.get_by_test_id("confirmation-panel")).to_have_count(0)
    assert not csp_violations


def test_the_panel_confirms_a_recorded_access_review(
    signed_in_page, live_server, role_user, care_setting, csp_violations
):
    page = signed_in_page(role_user(Role.ORG_ADMIN, care_setting))
    page.goto(live_server.url + reverse("administration:access_review", args=[care_setting.pk]))
    page.get_by_label("Note (optional)").fill("Removed a leaver")
    page.get_by_role("button", name="I have reviewed who has access").click()
    panel = page.get_by_test_id("confirmation-panel")
    expect(panel.get_by_role("heading", level=2)).to_have_text("Access review recorded")
    expect(panel).to_contain_text("The next one is due by")
    _at_both_widths(page, "access-review-recorded")
    page.reload()
    expect(page.get_by_test_id("confirmation-panel")).to_have_count(0)
    assert not csp_violations
