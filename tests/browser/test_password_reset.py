"""Forgotten password → e-mailed link → new password with the second factor → sign in with TOTP,
every page checked with axe (issue 12 finding 10)."""

import re

import pytest
from django.core import mail
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, screenshot
from tests.factories import TEST_TOTP_KEY

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "a-brand-new-passphrase-77"


def test_forgotten_password_reset_then_sign_in_with_totp(page, live_server, role_user, csp_violations):
    user = role_user("clinician")
    # The reset uses a backup code, so the sign-in after it can use this 30 seconds' TOTP code.
    backup = StaticDevice.objects.create(user=user, name="Backup codes", confirmed=True)
    StaticToken.objects.create(device=backup, token="backup42")

    page.goto(live_server.url + "/login/")
    page.get_by_role("link", name="Forgotten your password?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reset your password")
    assert_accessible(page)
    screenshot(page, "password-forgotten")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    assert_accessible(page)

    (message,) = [m for m in mail.outbox if m.to == [user.email]]
    path = re.search(r"/password/reset/\S+/", message.body).group(0)
    page.goto(live_server.url + path)
    expect(page).to_have_url(live_server.url + "/password/reset/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    assert_accessible(page)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Type the new password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    # Without the second factor: refused, with the error summary.
    expect(page.get_by_role("alert")).to_contain_text("Enter the security code")
    assert_accessible(page)
    screenshot(page, "password-reset-error")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Type the new password again").fill(NEW_PASSWORD)
    page.get_by_label("Security code").fill("backup42")
    page.get_by_role("button", name="Change password").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Child Protection – Information Sharing")
    expect(page.get_by_text("Your password has been changed")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your security code")
    page.get_by_label("Security code").fill(f"{totp(bytes.fromhex(TEST_TOTP_KEY)):06d}")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Child Protection – Information Sharing")
    assert_accessible(page)
    screenshot(page, "password-reset-signed-in")
    assert not csp_violations
