"""Single sign-on in Chromium through the real local OpenID Connect provider (npm
`oidc-provider`), desktop and 390 px: sign in, reach the check page, sign out of CP-IS and of
the provider."""

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from single_sign_on.models import ClientAuthMethod, IdentityProvider
from tests.browser.conftest import assert_accessible, screenshot
from tests.factories import user_with_role
from tests.single_sign_on.conftest import link
from tests.single_sign_on.provider_process import CLIENT_SECRET, ProviderProcess

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def browser_provider(live_server):
    client_key = IdentityProvider()
    client_key.private_key_generate()
    process = ProviderProcess(
        redirect_uri=live_server.url + "/sign-in/organisation/callback/",
        post_logout_redirect_uri=live_server.url + "/login/",
        client_public_jwk=client_key.public_jwk(),
    )
    process.start()
    yield process
    process.stop()


@pytest.mark.parametrize("width", WIDTHS)
def test_clinician_signs_in_with_their_smartcard_and_out_again(
    page, live_server, browser_provider, care_setting, csp_violations, settings, width
):
    settings.SITE_URL = live_server.url
    provider = IdentityProvider.objects.create(
        organisation=care_setting,
        name="Test CIS2",
        issuer=browser_provider.issuer,
        client_id="cpis-test",
        client_auth_method=ClientAuthMethod.CLIENT_SECRET_BASIC,
        client_secret=CLIENT_SECRET,
        two_factor_acr="AAL3_ANY",
        is_enabled=True,
    )
    user = user_with_role(Role.CLINICIAN, care_setting)
    link(provider, user, "cis2-0001")
    page.set_viewport_size(WIDTHS[width])

    page.goto(live_server.url + "/login/")
    page.get_by_role("link", name="Sign in with your organisation's account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in with your organisation's account")
    assert_accessible(page)
    screenshot(page, f"sso-choose-{width}")
    page.get_by_role("link", name="Sign in with Test CIS2").click()

    # The provider's own sign-in page (not ours).
    page.get_by_label("Username").fill("smartcard")
    page.get_by_label("Password").fill("pw-smartcard")
    page.get_by_role("button", name="Sign in").click()

    # Back signed in, with no CP-IS password or code: the smartcard counted as two-factor.
    expect(page.get_by_role("heading", level=1)).to_have_text("Child Protection – Information Sharing")
    expect(page.get_by_role("navigation", name="Account")).to_contain_text(user.full_name)
    assert_accessible(page)
    page.goto(live_server.url + "/check/")
    expect(page.get_by_label("NHS number")).to_be_visible()
    assert_accessible(page)
    screenshot(page, f"sso-check-{width}")

    page.get_by_role("button", name="Log out").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You have signed out of CP-IS")
    assert_accessible(page)
    screenshot(page, f"sso-signed-out-{width}")
    page.get_by_role("link", name="Sign out of Test CIS2").click()
    # The provider asks to confirm, then sends the browser back to our sign-in page.
    page.get_by_role("button", name="Yes, sign me out").click()
    expect(page).to_have_url(live_server.url + "/login/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Child Protection – Information Sharing")
    assert_accessible(page)
    assert not csp_violations


@pytest.mark.parametrize("width", WIDTHS)
def test_admin_pages_for_single_sign_on_are_accessible(
    signed_in_page, live_server, care_setting, national, csp_violations, width
):
    admin = user_with_role(Role.NATIONAL_ADMIN, national)
    page = signed_in_page(admin)
    page.set_viewport_size(WIDTHS[width])
    page.goto(live_server.url + f"/admin/organisations/{care_setting.pk}/single-sign-on/")
    page.get_by_role("button", name="Save single sign-on").click()
    expect(page.get_by_role("alert")).to_contain_text("Enter the name to show on the sign-in button")
    assert_accessible(page)
    page.get_by_label("Name on the sign-in button").fill("NHS CIS2")
    page.get_by_label("Issuer URL").fill("https://cis2.example")
    page.get_by_label("Client ID").fill("cpis")
    page.get_by_label("Signed assertion").check()
    page.get_by_label("Offer this sign-in to staff").check()
    page.get_by_role("button", name="Save single sign-on").click()
    expect(page.get_by_text("Single sign-on for Northshire General ED is saved.")).to_be_visible()
    provider = IdentityProvider.objects.get(organisation=care_setting)
    expect(page.get_by_text(provider.key_id)).to_be_visible()
    assert_accessible(page)
    screenshot(page, f"sso-provider-edit-{width}")

    from single_sign_on.models import LinkRequest

    LinkRequest.objects.create(
        provider=provider, issuer=provider.issuer, subject="x", user=user_with_role(Role.CLINICIAN, care_setting)
    )
    page.goto(live_server.url + "/admin/single-sign-on/links/")
    expect(page.get_by_role("button", name="Confirm")).to_be_visible()
    assert_accessible(page)
    screenshot(page, f"sso-link-requests-{width}")
    assert not csp_violations
