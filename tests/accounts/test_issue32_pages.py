"""What a new user missed (issue 32 item 10): the phase banner with its feedback link, the code
field focused on the second-factor page, Service health in the national admin's header."""

import re

import pytest
from django.urls import reverse

from tests.accounts.test_login import password_step
from tests.test_url_permissions import _client, world  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.django_db


def test_every_page_has_a_beta_banner_with_the_configured_feedback_link(client, settings):
    settings.FEEDBACK_URL = "https://feedback.example/cpis"
    page = client.get(reverse("accounts:login")).content.decode()
    banner = re.search(r'data-testid="phase-banner">(.*?)</div>', page, re.S).group(1)
    assert "Beta" in banner
    assert '<a href="https://feedback.example/cpis">feedback</a>' in banner


def test_the_second_factor_page_puts_the_cursor_in_the_code_field(client, role_user):
    password_step(client, role_user("clinician"))
    page = client.get(reverse("accounts:login_verify")).content.decode()
    field = re.search(r'<input[^>]*name="code"[^>]*>', page).group(0)
    assert "autofocus" in field


def test_after_a_wrong_code_the_error_summary_has_the_focus_instead(client, role_user):
    password_step(client, role_user("clinician"))
    page = client.post(reverse("accounts:login_verify"), {"code": "000000"}).content.decode()
    field = re.search(r'<input[^>]*name="code"[^>]*>', page).group(0)
    assert "autofocus" not in field


def test_the_national_admin_header_links_service_health(world):  # noqa: F811
    home = _client(world, "national_admin").get("/").content.decode()
    header = re.search(r'<nav class="nhsuk-header__navigation.*?</nav>', home, re.S).group(0)
    assert 'href="/service/health/"' in header
