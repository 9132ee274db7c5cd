"""The passkey journey in Chromium with its virtual authenticator (the DevTools WebAuthn domain),
desktop and 390 px: add a passkey, sign out, sign in with it alone and reach the check, use it
as the second factor after the password, then remove it. axe on every page; no CSP violation
(django-otp-webauthn's scripts come from our static files)."""

import time

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.accounts.test_login import current_code
from tests.browser.conftest import assert_accessible, screenshot, virtual_authenticator
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def passkey_origin(settings, live_server):
    """The live server is the relying party: its host name and its origin, port included, as
    PASSKEY_RP_ID and PASSKEY_ORIGINS would be set in production."""
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [live_server.url]
    assert live_server.url.startswith("http://localhost:")
    return live_server.url


def _sign_in_ages(page, *, seconds: int) -> None:
    """Moves this browser's last confirmation `seconds` into the past, as time passing would."""
    from accounts.sessions import SessionStore

    (cookie,) = [c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME]
    session = SessionStore(session_key=cookie["value"])
    session["reauthenticated_at"] = time.time() - seconds
    session.save()


def _visit(page, name: str, width: str) -> None:
    assert_accessible(page)
    screenshot(page, f"passkeys-{name}-{width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_passkey_journey(page, passkey_origin, signed_in_page, role_user, csp_violations, width):
    user = role_user("clinician")
    page = signed_in_page(user)
    page.set_viewport_size(WIDTHS[width])
    cdp, authenticator_id = virtual_authenticator(page)

    # Add a passkey from the account page.
    page.goto(passkey_origin + "/account/")
    page.get_by_role("link", name="Passkeys").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Passkeys")
    expect(page.get_by_text("You have no passkeys.")).to_be_visible()
    _visit(page, "list-empty", width)
    page.get_by_role("button", name="Add a passkey").click()
    # A session alone cannot add one: the password and a code again first.
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm it is you")
    _visit(page, "confirm", width)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_label("Security code").fill(current_code())
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a passkey")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("Enter a name for the passkey")
    _visit(page, "name-error", width)
    page.get_by_label("Name this passkey").fill("Work laptop")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create the passkey")
    _visit(page, "create", width)
    page.get_by_role("button", name="Create passkey").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Passkeys")
    expect(page.get_by_text("Passkey added: Work laptop")).to_be_visible()
    expect(page.get_by_test_id("passkeys")).to_contain_text("Work laptop")
    expect(page.get_by_test_id("passkeys")).to_contain_text("Never")
    _visit(page, "list", width)
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
    assert len(credentials) == 1 and credentials[0]["isResidentCredential"]

    # Sign out, and back in with the passkey alone: straight to the check.
    page.get_by_role("button", name="Log out").first.click()
    expect(page.get_by_label("Email address")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_visible()
    _visit(page, "login", width)
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("button", name="Log out").first).to_be_attached()
    expect(page.get_by_label("NHS number")).to_be_visible()
    _visit(page, "home-passwordless", width)

    # Sign out, then the password, then the passkey as the second factor.
    page.get_by_role("button", name="Log out").first.click()
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your security code")
    expect(page.get_by_role("button", name="Use a passkey")).to_be_visible()
    _visit(page, "verify", width)
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_label("NHS number")).to_be_visible()

    # Minutes later, adding another asks again, and the passkey confirms it is them.
    _sign_in_ages(page, seconds=settings.REAUTHENTICATION_WINDOW + 1)
    page.goto(passkey_origin + "/account/passkeys/add/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm it is you")
    expect(page.get_by_role("button", name="Use a passkey")).to_be_visible()
    _visit(page, "confirm-with-passkey", width)
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a passkey")

    # Remove it: the authenticator app stays, so it may go.
    page.goto(passkey_origin + "/account/passkeys/")
    expect(page.get_by_test_id("passkeys")).not_to_contain_text("Never")
    page.get_by_role("link", name="Remove Work laptop").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Remove the passkey “Work laptop”")
    _visit(page, "remove", width)
    page.get_by_role("button", name="Remove passkey").click()
    expect(page.get_by_text("Passkey removed: Work laptop")).to_be_visible()
    expect(page.get_by_text("You have no passkeys.")).to_be_visible()
    _visit(page, "list-after-removal", width)

    # The passkey left on the device no longer signs in: the page says so.
    page.get_by_role("button", name="Log out").first.click()
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("status")).to_contain_text("not registered with CP-IS")
    _visit(page, "login-removed-passkey", width)
    assert not csp_violations
