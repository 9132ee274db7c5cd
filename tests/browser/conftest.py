"""Browser journeys: Playwright drives Debian's Chromium against pytest-django's live server.

Never let Playwright download a browser: the system one is used. Every page a journey visits should be
checked with `assert_accessible(page)` (axe-core, bundled with axe-playwright-python).
"""

import os
import re
import shutil
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.test import Client

from tests.conftest import signed_in

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]},
    # region: the NHS.UK skip link sits outside landmarks by design (govuk-frontend #1604).
    "rules": {"region": {"enabled": False}},
    "resultTypes": ["violations"],
}


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("CHROMIUM_BIN") or shutil.which("chromium") or "/usr/bin/chromium",
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


# Any address but the test's own servers on loopback.
_OUTSIDE = re.compile(r"^https?://(?!(127\.0\.0\.\d+|localhost)[:/])")


@pytest.fixture
def context(context):
    """This machine, like CI's, has no outside network: a request for another host (the NHS
    fonts, on as in production) fails at once rather than holding every page's load event for a
    connection timeout (5 s a page). tests/browser/test_font_host.py routes such requests itself."""
    context.route(_OUTSIDE, lambda route: route.abort())
    return context


@pytest.fixture
def csp_violations(page):
    """Content-Security-Policy violations the page reported; a journey asserts there are none.

    (Other console errors are expected here: the NHS.UK fonts come from assets.nhs.uk, which
    this offline machine cannot reach, so the browser falls back to Arial.)
    """
    errors = []

    def collect(msg):
        if msg.type == "error" and "Content Security Policy" in msg.text:
            errors.append(msg.text)

    page.on("console", collect)
    return errors


@pytest.fixture
def signed_in_page(page, live_server, csp_violations):
    """signed_in_page(user) → the Playwright page with that user's session (2FA used)."""

    def sign_in(user):
        client = signed_in(Client(), user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
        )
        return page

    return sign_in


def assert_accessible(page) -> None:
    # After a click that navigates, a journey's expectation (a title, say) can hold while the
    # new document is still being parsed: axe would judge half a page.
    page.wait_for_load_state("load")
    results = Axe().run(page, options=AXE_OPTIONS)
    violations = results.response["violations"]
    assert not violations, f"axe violations on {page.url}:\n{results.generate_report()}"


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def virtual_authenticator(page) -> tuple:
    """A platform authenticator that holds passkeys and verifies the user (fingerprint, face
    or PIN) without asking: Chromium's own, through the DevTools protocol."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]
