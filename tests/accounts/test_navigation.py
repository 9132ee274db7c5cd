"""The header and home links: derived from the views' own role rules, so none is refused."""

import re

import pytest

from accounts.navigation import LINKS, allowed_roles
from tests.test_url_permissions import _client, world  # noqa: F401 - the fixture is used by name
from tests.url_permissions import PERSONAS

pytestmark = pytest.mark.django_db

SIGNED_IN = [p for p in PERSONAS if p != "anonymous"]


def _hrefs(html: str, container: str) -> list[str]:
    block = re.search(container, html, re.S)
    return re.findall(r'href="(/[^"]*)"', block[0]) if block else []


def test_every_link_names_a_view_guarded_by_role_required():
    for link in LINKS:
        # A missing URL raises NoReverseMatch; an unguarded view raises TypeError.
        path, roles, _ = allowed_roles(link.url_name)
        assert path.startswith("/") and roles, link.url_name


@pytest.mark.parametrize("persona", SIGNED_IN)
def test_every_link_a_persona_is_shown_opens_without_refusal(world, persona):  # noqa: F811
    client = _client(world, persona)
    home = client.get("/").content.decode()
    header = _hrefs(home, r'<nav class="nhsuk-header__navigation.*?</nav>')
    links = set(header) | set(_hrefs(home, r"<main.*?</main>"))

    refused = {}
    for href in sorted(links):
        status = client.get(href).status_code
        if status >= 400:
            refused[href] = status
    assert not refused, f"{persona} is shown links that are refused: {refused}"


def test_untrained_clinician_is_not_offered_the_check(world):  # noqa: F811
    home = _client(world, "untrained_clinician").get("/").content.decode()
    assert "/check/" not in home
    assert "You cannot see child protection information yet" in home


def test_each_role_sees_its_own_areas_in_the_header(world):  # noqa: F811
    expected = {
        "clinician": {"/check/"},
        "social_worker": {"/inbox/", "/children/", "/plans/"},
        "plan_manager": {"/plans/", "/plans/uploads/"},
        "la_admin": {"/admin/", "/audit/"},
        "national_admin": {"/admin/", "/audit/"},
    }
    for persona, paths in expected.items():
        home = _client(world, persona).get("/").content.decode()
        header = set(_hrefs(home, r'<nav class="nhsuk-header__navigation.*?</nav>'))
        assert paths <= header, (persona, header)
        assert "/check/" not in header or persona == "clinician", (persona, header)


def test_only_the_section_a_page_is_in_is_marked_in_the_header(world):  # noqa: F811
    page = _client(world, "plan_manager").get("/plans/uploads/").content.decode()
    nav = re.search(r'<nav class="nhsuk-header__navigation.*?</nav>', page, re.S)[0]
    items = re.findall(r'<a class="nhsuk-header__navigation-link" href="([^"]+)"([^>]*)>', nav)
    marked = [href for href, attributes in items if "aria-current" in attributes]
    assert marked == ["/plans/uploads/"]
