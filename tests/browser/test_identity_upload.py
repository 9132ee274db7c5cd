"""A plan manager uploads a file with a superseded and a mistyped NHS number, verified against the
local PDS server (a real process), and sees both explained; every page checked with axe."""

import re

import pytest
from playwright.sync_api import expect

from plans.models import Plan
from tests.browser.conftest import assert_accessible, screenshot
from tests.identity.pds import LocalPds, patient_for
from tests.plans.helpers import csv_bytes, row

# Tasks run in the live server's own thread (eager), after each request's commit.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def local_pds(tmp_path_factory):
    server = LocalPds(tmp_path_factory.mktemp("pds-keys"))
    yield server
    server.stop()


@pytest.fixture
def pds(local_pds, settings):
    local_pds.reset()
    local_pds.configure(settings)
    return local_pds


def test_plan_manager_sees_a_superseded_and_a_mistyped_number_explained(
    signed_in_page, live_server, role_user, local_authority, pds, csp_violations, tmp_path
):
    good = row(1)
    mistyped = row(2)  # a valid check digit, but nobody's number: PDS has no record
    superseded = row(3, nhs_number="9000001013", family_name="Smith", given_names="Jane", date_of_birth="2010-10-22")
    pds.add(patient_for(good))
    path = tmp_path / "northshire-plans.csv"
    path.write_bytes(csv_bytes([good, mistyped, superseded]))

    page = signed_in_page(role_user("plan_manager"))
    page.goto(live_server.url + "/plans/uploads/")
    page.get_by_label("Upload a CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and check").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Check the upload", timeout=30_000)
    summary = page.get_by_test_id("identity-summary")
    expect(summary).to_contain_text(re.compile(r"Children verified\s*1 of 3"))
    expect(summary).to_contain_text("33.3%")
    rejected = page.get_by_test_id("rejected-rows")
    expect(rejected.get_by_role("row").filter(has_text="CPR05")).to_contain_text(
        "This NHS number has been replaced by 900 000 1005. Send the plan under the new number."
    )
    expect(rejected.get_by_role("row").filter(has_text="CPR01")).to_contain_text(
        "PDS has no record of this NHS number. Check it against the child's records: a digit may be mistyped."
    )
    assert_accessible(page)
    screenshot(page, "identity-upload-preview")
    assert not Plan.objects.exists()

    page.get_by_role("button", name="Confirm and apply").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Upload acknowledgement", timeout=30_000)
    expect(page.get_by_test_id("acknowledgement")).to_contain_text("CPF03")
    expect(page.get_by_test_id("acknowledgement")).to_contain_text("below the 95% needed to go live")
    expect(page.get_by_test_id("rejected-rows")).to_contain_text("replaced by 900 000 1005")
    assert_accessible(page)
    screenshot(page, "identity-upload-acknowledgement")
    assert list(Plan.objects.values_list("nhs_number", flat=True)) == [good["nhs_number"]]

    page.get_by_role("link", name="Back to uploads").click()
    expect(page.get_by_test_id("match-rate")).to_contain_text("33.3%")
    assert_accessible(page)
    assert not csp_violations


def test_social_worker_reads_an_inactive_nhs_number_notification(
    signed_in_page, live_server, role_user, local_authority, csp_violations
):
    from django.utils import timezone

    from notifications.models import Notification, NotificationKind

    now = timezone.now()
    notification = Notification.objects.create(
        kind=NotificationKind.INACTIVE_NHS_NUMBER, local_authority=local_authority, care_setting=None,
        nhs_number="9000001013", family_name="Smith", given_names="Jane", date_of_birth="2010-10-22",
        plan_types="CPP", first_attended_at=now, last_attended_at=now, checked_by_name="", checked_by_role="",
        delivered_to_inbox_at=now, inactive_reason="superseded", replacement_nhs_number="9000001005",
    )  # fmt: skip
    page = signed_in_page(role_user("social_worker"))
    page.goto(live_server.url + "/inbox/")
    expect(page.get_by_test_id("inbox-table")).to_contain_text("Inactive NHS number")
    assert_accessible(page)
    page.get_by_role("link", name="Jane Smith").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Jane Smith")
    expect(page.get_by_test_id("inactive-reason")).to_contain_text("900 000 1005")
    assert_accessible(page)
    screenshot(page, "identity-inactive-notification")
    assert notification.pk and not csp_violations
