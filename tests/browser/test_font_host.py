"""While a page loads, no request leaves for any host but ours, unless the NHS.UK fonts are on:
then only assets.nhs.uk, for fonts. A route fails (and records) every request to another host."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from tests.browser.conftest import assert_accessible, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def _foreign_requests(page, live_server) -> list[str]:
    ours = urlsplit(live_server.url).netloc
    foreign: list[str] = []

    def route(route_, request):
        if urlsplit(request.url).netloc == ours:
            route_.continue_()
        else:
            foreign.append(request.url)
            route_.abort()  # this machine has no outside network; never wait on it

    page.route("**/*", route)
    return foreign


def _use_font_host(settings, on: bool) -> None:
    # As cpis/settings/base.py derives them from NHSUK_FONTS_FROM_NHS.
    settings.NHSUK_FONTS_FROM_NHS = on
    policy = {**settings.CONTENT_SECURITY_POLICY}
    policy["DIRECTIVES"] = {
        **policy["DIRECTIVES"],
        "font-src": ["'self'", "https://assets.nhs.uk"] if on else ["'self'"],
    }
    settings.CONTENT_SECURITY_POLICY = policy


@pytest.mark.parametrize("persona", ["anonymous", "clinician"])
def test_with_the_font_host_off_nothing_leaves_for_another_host(
    page, signed_in_page, live_server, role_user, settings, csp_violations, persona
):
    _use_font_host(settings, False)
    foreign = _foreign_requests(page, live_server)
    if persona != "anonymous":
        signed_in_page(role_user(Role.CLINICIAN))
    page.goto(live_server.url + "/", wait_until="networkidle")
    expect(page.get_by_role("heading", level=1).first).to_be_visible()
    font = page.evaluate("() => getComputedStyle(document.body).fontFamily")
    assert font.lower().startswith("arial")
    assert not foreign, f"requests to other hosts: {foreign}"
    assert_accessible(page)
    screenshot(page, f"fonts-off-{persona}")
    assert not csp_violations


def test_with_the_font_host_on_only_assets_nhs_uk_is_asked_and_only_for_fonts(
    page, signed_in_page, live_server, role_user, settings
):
    _use_font_host(settings, True)
    foreign = _foreign_requests(page, live_server)
    signed_in_page(role_user(Role.CLINICIAN))
    page.goto(live_server.url + "/", wait_until="networkidle")
    assert foreign, "the Frutiger fonts were not asked for"
    assert {urlsplit(u).netloc for u in foreign} == {"assets.nhs.uk"}
    assert all(urlsplit(u).path.startswith("/fonts/") for u in foreign), foreign
