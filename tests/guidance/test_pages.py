"""Help, legal pages and the glossary: public, linked from every page's footer."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

SLUGS = ["help", "glossary", "accessibility", "privacy", "cookies"]


@pytest.mark.parametrize("slug", SLUGS)
def test_each_page_is_public_and_in_the_footer(slug):
    client = Client()
    page = client.get(f"/guidance/{slug}/")
    assert page.status_code == 200
    assert f'href="/guidance/{slug}/"' in client.get("/guidance/help/").content.decode()


def test_an_unknown_page_is_not_found():
    assert Client().get("/guidance/nothing-here/").status_code == 404


def test_the_glossary_explains_cpp_lac_and_ucpp():
    page = Client().get("/guidance/glossary/").content.decode()
    for term in ("CPP – Child Protection Plan", "LAC – Looked After Child", "UCPP – Unborn Child Protection Plan"):
        assert term in page
