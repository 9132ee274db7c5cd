"""An LA conformance run's report (and its printable view) and the supplier's page in Chromium
at 1280 and 390 px, after a run over a real mesh-sandbox: axe clean, no wider than the phone."""

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from mesh.services import mesh_poll
from suppliers.la_conformance import la_conformance_run_open
from suppliers.models import SupplierSystem, SystemKind
from tests.browser.conftest import assert_accessible, screenshot
from tests.factories import user_with_role
from tests.suppliers import mesh_la
from tests.suppliers.conftest import deliver_notifications, la_mesh, la_sandbox  # noqa: F401
from tests.suppliers.mesh_la import SUPPLIER, LaSystem

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def _fits(page):
    scroll, client = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert scroll <= client


@pytest.mark.parametrize("width", WIDTHS)
def test_la_run_report_and_suppliers_page(page, signed_in_page, live_server, national, la_mesh, csp_violations, width):  # noqa: F811
    system = SupplierSystem.objects.create(
        supplier="Borough Systems", product="CaseBook", version="9.1", kind=SystemKind.LA_CASE_MANAGEMENT,
        offers_mesh=True,
    )  # fmt: skip
    admin = user_with_role(Role.NATIONAL_ADMIN, national)
    opened = la_conformance_run_open(system=system, mailbox_id=SUPPLIER, by=admin)
    run = opened.run
    deliver_notifications(run)
    supplier = LaSystem(la_mesh, acknowledge={"CPIS_NOTIFICATION"})
    supplier.send(mesh_la.good_file(run.numbers), "GOOD-1")
    supplier.send(mesh_la.rejected_file(run.numbers), "REJECT-1")
    mesh_poll()
    supplier.fetch()

    page.set_viewport_size(WIDTHS[width])
    page.goto(live_server.url + f"/conformance/la/{opened.access_key}/")
    expect(page.get_by_test_id("numbers-good")).to_contain_text(run.numbers["good"][0])
    expect(page.get_by_test_id("scenario-answers_acknowledged")).to_contain_text("not acknowledged in MESH")
    assert_accessible(page)
    _fits(page)
    screenshot(page, f"suppliers-la-supplier-{width}")

    signed_in_page(admin)
    page.goto(live_server.url + f"/admin/la-conformance-runs/{run.pk}/")
    expect(page.get_by_test_id("report-verdict")).to_contain_text("Not passed")
    expect(page.get_by_test_id("scenario-rejected_rows")).to_contain_text("future_date")
    expect(page.get_by_test_id("scenario-notification_acknowledged")).to_contain_text("acknowledged")
    assert_accessible(page)
    _fits(page)
    screenshot(page, f"suppliers-la-run-report-{width}")
    page.get_by_role("link", name="Printable view").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("LA conformance report")
    assert_accessible(page)
    _fits(page)
    page.goto(live_server.url + f"/admin/supplier-systems/{system.pk}/")
    expect(page.get_by_test_id("la-runs")).to_contain_text(SUPPLIER)
    assert_accessible(page)
    _fits(page)
    assert not csp_violations
