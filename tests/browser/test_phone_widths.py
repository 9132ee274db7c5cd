"""Every page of every role at 390 px, on the demo's data: the document is never wider than the
phone (a table scrolls in its own box or becomes cards), axe is clean, and each page is
photographed at 1280 and 390 px (var/screenshots/width-*.png).

The pages come from the URL permission matrix (tests/*/url_expectations.py), so a new page is
walked here as soon as it has its expectation: every GET that answers the persona with 200, for
an object of the persona's own organisation.
"""

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import Organisation, User
from tests.browser.conftest import assert_accessible, screenshot
from tests.test_url_permissions import EXPECTATIONS
from tests.url_permissions import World

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

PERSONA_EMAILS = {
    "clinician": "clinician@demo.example",
    "safeguarding_lead": "safeguarding.lead@demo.example",
    "social_worker": "social.worker@demo.example",
    "plan_manager": "plan.manager@demo.example",
    "la_admin": "la.admin@demo.example",
    "setting_admin": "setting.admin@demo.example",
    "national_admin": "national.admin@demo.example",
}

# Searches with their query in the URL (a child's name or NHS number never is), so the results
# page is walked with results on it.
SEARCHES = {
    "la_admin": ["/audit/?action=login"],
    "setting_admin": ["/audit/?action=login"],
    "national_admin": ["/audit/?action=login&date_from=2020-01-01"],
    "social_worker": ["/plans/?status=open"],
    "plan_manager": ["/plans/?plan_type=CPP&status=open"],
}


@pytest.fixture
def demo_world(settings):
    settings.DEBUG = False
    call_command("seed_demo", "--force", verbosity=0)
    orgs = {o.ods_code: o for o in Organisation.objects.all()}
    world = World(
        care_setting=orgs["RDE01"],
        other_care_setting=orgs["RXU03"],
        la=orgs["LA001"],
        other_la=orgs["LA002"],
        national=orgs["X26"],
    )
    world.users = {persona: User.objects.get(email=email) for persona, email in PERSONA_EMAILS.items()}
    # Not walked (their pages are in tests/browser/test_privacy.py), but the subjects of the
    # alerts other personas' pages show.
    world.users["privacy_officer"] = User.objects.get(email="privacy.officer@demo.example")
    world.users["la_privacy_officer"] = User.objects.get(email="la.privacy.officer@demo.example")
    return world


def _pages(world: World, persona: str) -> list[tuple[str, str]]:
    pages = []
    for name, rule in sorted(EXPECTATIONS.items()):
        if rule.method != "get" or rule.expected(persona, True) != 200:
            continue
        kwargs = rule.kwargs(world, persona, True) if rule.kwargs else None
        pages.append((name, reverse(name, kwargs=kwargs)))
    pages += [(f"search-{i}", url) for i, url in enumerate(SEARCHES.get(persona, []))]
    pages.append(("not-found", "/no-such-page/"))
    return pages


def _document_width(page) -> tuple[int, int]:
    return page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")


@pytest.mark.parametrize("persona", ["anonymous", *sorted(PERSONA_EMAILS)])
def test_every_page_fits_a_phone(page, signed_in_page, live_server, demo_world, csp_violations, persona):
    if persona != "anonymous":
        signed_in_page(demo_world.users[persona])
    too_wide, walked = [], 0
    for name, path in _pages(demo_world, persona):
        url = live_server.url + path
        # Downloads, JSON and the health probes are not pages; ask first, so goto never starts a download.
        head = page.request.get(url, max_redirects=0)
        if "text/html" not in head.headers.get("content-type", "") or head.status not in (200, 404):
            continue
        walked += 1
        slug = f"width-{persona}-{name.replace(':', '-')}"
        page.set_viewport_size(DESKTOP)
        page.goto(url)
        screenshot(page, f"{slug}-desktop")
        page.set_viewport_size(PHONE)
        page.goto(url)
        scroll_width, client_width = _document_width(page)
        if scroll_width > client_width:
            too_wide.append(f"{name} ({path}): {scroll_width} px wide at {client_width}")
        assert_accessible(page)
        screenshot(page, f"{slug}-phone")
    assert walked >= 5, f"only {walked} pages walked for {persona}"
    assert not too_wide, "pages wider than a 390 px phone:\n" + "\n".join(too_wide)
    assert not csp_violations


def test_a_new_api_token_and_its_revoke_button_fit_a_phone(signed_in_page, live_server, demo_world, csp_violations):
    page = signed_in_page(demo_world.users["clinician"])
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + reverse("fhir:token_list"))
    page.get_by_label("Name").fill("Ward PC system")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_test_id("new-token")).to_be_visible()
    # The copy button uses the browser's own clipboard, no library.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.get_by_role("button", name="Copy the token").click()
    expect(page.get_by_role("status").filter(has_text="Copied")).to_be_visible()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == page.get_by_test_id("new-token").inner_text()
    scroll_width, client_width = _document_width(page)
    assert scroll_width <= client_width, f"{scroll_width} px wide at {client_width}"
    assert_accessible(page)
    screenshot(page, "width-clinician-new-token-phone")
    assert not csp_violations
