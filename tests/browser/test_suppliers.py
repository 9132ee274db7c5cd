"""The public list of accredited systems and a conformance run's report (and its printable
view) in Chromium at 1280 and 390 px: axe clean, no wider than the phone, photographed."""

import uuid

import pytest
from django.test import Client
from playwright.sync_api import expect

from accounts.models import Role
from suppliers.conformance import conformance_run_open
from suppliers.models import AccreditationState, SupplierSystem, SystemKind
from tests.browser.conftest import assert_accessible, screenshot
from tests.factories import user_with_role

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
NHS = "https://fhir.nhs.uk/Id/nhs-number"


def _fits(page):
    scroll, client = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert scroll <= client


@pytest.mark.parametrize("width", WIDTHS)
def test_public_list_and_run_report(page, signed_in_page, live_server, national, csp_violations, width):
    SupplierSystem.objects.create(
        supplier="Emerald Health",
        product="Emerald EPR",
        version="7.3",
        kind=SystemKind.CARE_SETTING_EPR,
        offers_fhir=True,
        offers_mesh=True,
        state=AccreditationState.ACCREDITED,
        accredited_on="2026-11-02",
        accredited_version="7.3",
    )
    testing = SupplierSystem.objects.create(
        supplier="Meridian Clinical",
        product="Meridian ED",
        version="2.0",
        kind=SystemKind.CARE_SETTING_EPR,
        offers_fhir=True,
    )
    admin = user_with_role(Role.NATIONAL_ADMIN, national)
    opened = conformance_run_open(system=testing, by=admin)
    number = opened.run.numbers["on_plan"]
    Client().get(
        "/fhir/R4/CareTeam",
        {"patient:identifier": f"{NHS}|{number}"},
        HTTP_AUTHORIZATION=f"Bearer {opened.clinician_token}",
        HTTP_TRACEID=str(uuid.uuid4()),
    )
    page.set_viewport_size(WIDTHS[width])
    page.goto(live_server.url + "/")
    page.goto(live_server.url + "/reports/implementation-progress/")
    expect(page.locator("footer").get_by_role("link", name="Accredited supplier systems")).to_be_visible()
    page.get_by_role("main").get_by_role("link", name="accredited supplier systems").click()
    expect(page.get_by_test_id("accredited-systems")).to_contain_text("Emerald EPR")
    expect(page.get_by_test_id("accredited-systems")).not_to_contain_text("Meridian")
    assert_accessible(page)
    _fits(page)
    screenshot(page, f"suppliers-public-{width}")

    signed_in_page(admin)
    page.goto(live_server.url + f"/admin/conformance-runs/{opened.run.pk}/")
    expect(page.get_by_test_id("report-verdict")).to_contain_text("Not passed")
    expect(page.get_by_test_id("scenario-on_plan")).to_contain_text("Accept asks for application/fhir+json")
    assert_accessible(page)
    _fits(page)
    screenshot(page, f"suppliers-run-report-{width}")
    page.get_by_role("link", name="Printable view").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("conformance report")
    assert_accessible(page)
    _fits(page)
    screenshot(page, f"suppliers-run-print-{width}")

    page.goto(live_server.url + f"/admin/organisations/{national.pk}/")
    expect(page.locator("#supplier-systems")).to_be_visible()
    assert_accessible(page)
    assert not csp_violations
