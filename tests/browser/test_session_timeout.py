import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def short_sessions(settings):
    # Seconds instead of minutes, so the journey sees the warning without waiting 13 minutes.
    settings.SESSION_IDLE_TIMEOUT = 8
    settings.SESSION_WARNING_BEFORE = 6


def test_warning_appears_and_stay_signed_in_keeps_the_session(
    short_sessions, signed_in_page, live_server, role_user, csp_violations
):
    page = signed_in_page(role_user("clinician"))
    page.goto(live_server.url + "/")
    dialog = page.get_by_role("dialog", name="You will be signed out soon")
    expect(dialog).to_be_visible(timeout=5000)
    assert_accessible(page)
    screenshot(page, "session-timeout-warning")
    dialog.get_by_role("button", name="Stay signed in").click()
    expect(dialog).to_be_hidden()
    # Past the original deadline, still signed in: the server saw the extension.
    page.wait_for_timeout(4000)
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Child Protection – Information Sharing")
    assert not csp_violations


def test_doing_nothing_signs_the_user_out(short_sessions, signed_in_page, live_server, role_user):
    page = signed_in_page(role_user("clinician"))
    page.goto(live_server.url + "/")
    expect(page).to_have_url(live_server.url + "/login/?timeout=1", timeout=15000)
    expect(page.get_by_text("We signed you out because you had not done anything")).to_be_visible()
    page.goto(live_server.url + "/")
    # Signed out for good: the home page sends the browser to sign in, and back here after it.
    expect(page).to_have_url(live_server.url + "/login/?next=/")
