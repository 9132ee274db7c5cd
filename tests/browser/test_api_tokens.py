import pytest
from playwright.sync_api import expect

from core.tokens import token_hash
from fhir.models import ApiToken
from tests.browser.conftest import assert_accessible, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_clinician_creates_and_revokes_an_api_token(signed_in_page, live_server, role_user, csp_violations):
    user = role_user("clinician")
    page = signed_in_page(user)
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="API tokens for your patient record system").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("API tokens")
    assert_accessible(page)

    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("alert")).to_contain_text("Enter a name for the token")
    assert_accessible(page)

    page.get_by_label("Name").fill("ED patient record system")
    page.get_by_role("button", name="Create token").click()
    value = page.get_by_test_id("new-token").inner_text()
    assert ApiToken.objects.get(user=user).hashed == token_hash(value)
    assert_accessible(page)
    screenshot(page, "api-tokens")

    page.get_by_role("button", name="Revoke ED patient record system").click()
    expect(page.get_by_text("no longer works")).to_be_visible()
    assert ApiToken.objects.get(user=user).revoked_at is not None
    assert not csp_violations
