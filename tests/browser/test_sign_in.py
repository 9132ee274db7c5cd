import pytest
from django_otp.oath import totp
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, screenshot
from tests.factories import TEST_PASSWORD, TEST_TOTP_KEY

pytestmark = pytest.mark.django_db(transaction=True)


def _code() -> str:
    return f"{totp(bytes.fromhex(TEST_TOTP_KEY)):06d}"


def test_clinician_signs_in_with_password_and_totp(page, live_server, role_user, csp_violations):
    user = role_user("clinician")
    page.goto(live_server.url + "/login/")
    expect(page).to_have_title("Sign in – CP-IS")
    assert_accessible(page)
    screenshot(page, "login")

    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your security code")
    assert_accessible(page)
    screenshot(page, "login-2fa")
    page.get_by_label("Security code").fill(_code())
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Child Protection – Information Sharing")
    expect(page.get_by_role("navigation", name="Account")).to_contain_text(user.full_name)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "home")
    assert not csp_violations


def test_wrong_password_shows_the_error_summary(page, live_server, role_user, csp_violations):
    user = role_user("clinician")
    page.goto(live_server.url + "/login/")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill("wrong-password-here")
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_title("Error: Sign in – CP-IS")
    expect(page.get_by_role("alert")).to_contain_text("Enter a correct email address and password")
    assert_accessible(page)
    assert not csp_violations


def test_untrained_clinician_is_stopped_at_the_gate(signed_in_page, live_server, role_user, csp_violations):
    user = role_user("clinician", trained=False)
    page = signed_in_page(user)
    page.goto(live_server.url + "/")
    expect(page.get_by_test_id("gate-missing")).to_contain_text("There is no record of your CP-IS training.")
    assert_accessible(page)
    screenshot(page, "gate")
    assert not csp_violations


def test_new_user_enrols_by_qr_code_and_sees_backup_codes_once(page, live_server, role_user, csp_violations):
    import base64

    user = role_user("clinician", enrolled=False)
    page.goto(live_server.url + "/login/")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-factor authentication")
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "enrol-2fa")
    # What a person would type into their app instead of scanning.
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    code = f"{totp(base64.b32decode(secret)):06d}"
    page.get_by_label("Security code").fill(code)
    page.get_by_role("button", name="Confirm and sign in").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Save your backup codes")
    expect(page.get_by_test_id("backup-codes").get_by_role("listitem")).to_have_count(10)
    assert_accessible(page)
    screenshot(page, "backup-codes")
    page.get_by_role("button", name="I have saved my backup codes").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Child Protection – Information Sharing")
    # The end of onboarding says so, once (issue 32), at a desktop's width and a phone's.
    panel = page.get_by_test_id("confirmation-panel")
    expect(panel.get_by_role("heading", level=2)).to_have_text("Your account is set up")
    for name, size in (("desktop", {"width": 1280, "height": 900}), ("phone", {"width": 390, "height": 844})):
        page.set_viewport_size(size)
        assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        assert_accessible(page)
        screenshot(page, f"issue32-account-set-up-{name}")
    page.reload()
    expect(page.get_by_test_id("confirmation-panel")).to_have_count(0)
    page.goto(live_server.url + "/account/backup-codes/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Child Protection – Information Sharing")
    assert not csp_violations
