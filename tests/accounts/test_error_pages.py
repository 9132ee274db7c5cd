"""The web's error pages: each says what its own status means, with no branch it cannot take."""

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from accounts import errors

pytestmark = pytest.mark.django_db

PAGES = Path(__file__).resolve().parents[2] / "templates" / "errors"
_NOT_FOUND = "If you typed the web address, check it is correct."
_FORBIDDEN = "Your roles at your current organisation do not allow this."
_TRY_LATER = "Try again later. If you were checking a child, phone the local authority's emergency duty team."


def test_no_error_page_has_a_condition_on_constants():
    """A condition comparing two literals ({% if "404" == "404" %}) is decided when it is written:
    one branch is always taken and the others never are."""
    constant = re.compile(r"""\{%-?\s*(?:el)?if\s+(["'])[^"']*\1\s*(?:==|!=)\s*(["'])""")
    decided = [page.name for page in sorted(PAGES.glob("*.jinja")) if constant.search(page.read_text())]
    assert decided == []


def _request():
    request = RequestFactory().get("/somewhere/")
    request.user = AnonymousUser()
    return request


@pytest.mark.parametrize(
    ("render", "status", "says", "never"),
    [
        (lambda r: errors.page_not_found(r), 404, _NOT_FOUND, [_FORBIDDEN, _TRY_LATER]),
        (lambda r: errors.permission_denied(r), 403, _FORBIDDEN, [_NOT_FOUND, _TRY_LATER]),
        (lambda r: errors.bad_request(r), 400, _TRY_LATER, [_NOT_FOUND, _FORBIDDEN]),
        (lambda r: errors.server_error(r), 500, _TRY_LATER, [_NOT_FOUND, _FORBIDDEN]),
    ],
)
def test_each_error_page_says_what_its_status_means(render, status, says, never):
    response = render(_request())
    page = response.content.decode()
    assert response.status_code == status
    assert says.replace("'", "&#39;") in page or says in page
    assert not [sentence for sentence in never if sentence in page or sentence.replace("'", "&#39;") in page]


def test_an_unknown_page_answers_with_the_not_found_page(client_for, role_user):
    response = client_for(role_user("clinician")).get("/no-such-page-at-all/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    assert _NOT_FOUND in response.content.decode()
