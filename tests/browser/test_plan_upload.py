"""A plan manager's upload journey in Chromium, with a real Celery worker on real Redis, and
the plan pages checked with axe."""

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from plans.models import Plan
from tests.browser.conftest import assert_accessible, screenshot
from tests.factories import PlanFactory, nhs_number_for
from tests.notifications.worker import SHARED_BROKER_URL, TIMEOUT_FACTOR, broker
from tests.plans.helpers import csv_bytes, days_ago, row

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

# The page waits on a worker that has to start from cold: generous on a loaded 2-core machine.
WORKER_DEADLINE_MS = 120_000 * TIMEOUT_FACTOR

BROKER = os.environ.get("PLANS_TEST_BROKER_URL", SHARED_BROKER_URL)


class Worker:
    """A Celery worker process on the test database; started and stopped by the test, so it
    can watch the page wait for it."""

    def __init__(self):
        db = connection.settings_dict
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "cpis.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "CELERY_BROKER_URL": BROKER,
        }
        self.process = None

    def start(self):
        self.process = subprocess.Popen(  # noqa: S603 - our own command line
            [sys.executable, "-m", "celery", "-A", "cpis", "worker", "--pool=solo", "--concurrency=1",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING"],
            env=self.env, cwd=settings.BASE_DIR,
        )  # fmt: skip

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(30)
            self.process = None


@pytest.fixture
def worker():
    redis.Redis.from_url(BROKER).flushdb()
    with broker(BROKER):
        process = Worker()
        yield process
        process.stop()


def test_plan_manager_uploads_previews_confirms_and_downloads_rejected_rows(
    signed_in_page, live_server, role_user, local_authority, worker, csp_violations, tmp_path
):
    user = role_user("plan_manager")
    held = PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(1),
                       date_of_birth=timezone.localdate() - timedelta(3000),
                       start_date=timezone.localdate() - timedelta(100))  # fmt: skip
    page = signed_in_page(user)
    page.goto(live_server.url + "/plans/uploads/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Upload plans")
    assert_accessible(page)
    screenshot(page, "plans-upload")

    path = tmp_path / "northshire-plans.csv"
    path.write_bytes(
        csv_bytes(
            [
                row(1, date_of_birth=days_ago(3000), start_date=days_ago(100), end_date=days_ago(2)),
                row(2),
                row(3, plan_type="LAC"),
                row(4, plan_type="UCPP", date_of_birth=days_ago(9000), expected_due_date=days_ago(-60)),
                row(5, nhs_number="999 000 0019"),
                row(6, start_date=days_ago(-5)),
                row(7, family_name='=HYPERLINK("http://example.com")', given_names="Ann\tMarie"),
            ],
            bom=True,
            newline="\r\n",
        )  # fmt: skip
    )
    page.get_by_label("Upload a CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and check").click()

    # No worker yet: the page shows the progress bar and waits.
    expect(page.get_by_role("heading", level=1)).to_have_text("Upload in progress")
    expect(page.locator("progress")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "plans-upload-checking")

    worker.start()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check the upload", timeout=WORKER_DEADLINE_MS)
    counts = page.get_by_test_id("preview-counts")
    expect(counts).to_contain_text(re.compile(r"Add new plans\s*3"))
    expect(counts).to_contain_text(re.compile(r"End plans\s*1"))
    expect(counts).to_contain_text(re.compile(r"Reject rows\s*3"))
    assert_accessible(page)
    screenshot(page, "plans-upload-preview")
    assert Plan.objects.count() == 1

    worker.stop()
    page.get_by_role("button", name="Confirm and apply").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Upload in progress")
    expect(page.get_by_label("Applying the file")).to_be_visible()
    screenshot(page, "plans-upload-applying")

    worker.start()
    expect(page.get_by_role("heading", level=1)).to_have_text("Upload acknowledgement", timeout=WORKER_DEADLINE_MS)
    expect(page.get_by_test_id("acknowledgement")).to_contain_text("CPF03")
    expect(page.get_by_test_id("rejected-rows")).to_contain_text("The NHS number is not a valid")
    assert_accessible(page)
    screenshot(page, "plans-upload-acknowledgement")
    held.refresh_from_db()
    assert held.end_date.isoformat() == days_ago(2)
    assert Plan.objects.count() == 4

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the rejected rows (CSV)").click()
    text = Path(download_info.value.path()).read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("line_number,code,reason,message,nhs_number")
    assert "invalid_nhs_number" in text and "future_date" in text and "invalid_name" in text
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
    assert not csp_violations


def test_plan_pages_pass_axe(signed_in_page, live_server, role_user, local_authority, csp_violations):
    plan = PlanFactory(organisation=local_authority, family_name="Adeyemi", given_names="Tobi")
    PlanFactory(organisation=local_authority, unborn=True, family_name="Baker", given_names="Chloe")
    page = signed_in_page(role_user("plan_manager"))
    page.goto(live_server.url + "/plans/")
    expect(page.get_by_role("link", name="ADEYEMI, Tobi")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "plans-list")
    page.get_by_label("NHS number or name").fill("adeyemi")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_test_id("plan-count")).to_contain_text("1 plan matches your search")
    page.get_by_role("link", name="ADEYEMI, Tobi").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("ADEYEMI, Tobi")
    assert_accessible(page)
    screenshot(page, "plans-detail")
    page.get_by_role("button", name="End plan").click()
    # The NHS.UK date input: a day that does not exist is refused with the error summary.
    today = timezone.localdate()
    page.get_by_label("Day").fill("31")
    page.get_by_label("Month").fill("2")
    page.get_by_label("Year").fill(str(today.year))
    page.get_by_role("button", name="End plan").click()
    expect(page.get_by_role("alert")).to_contain_text("End date must be a real date")
    assert_accessible(page)
    page.get_by_label("Day").fill(str(today.day))
    page.get_by_label("Month").fill(str(today.month))
    page.get_by_label("Year").fill(str(today.year))
    page.get_by_role("button", name="End plan").click()
    expect(page.get_by_text("Plan ended")).to_be_visible()
    plan.refresh_from_db()
    assert plan.end_date == timezone.localdate()
    page.goto(live_server.url + "/plans/new/")
    assert_accessible(page)
    screenshot(page, "plans-new")
    page.goto(live_server.url + "/plans/contacts/")
    assert_accessible(page)
    screenshot(page, "plans-contacts")
    assert not csp_violations
