"""bench.pages benches every page of every role: its pages come from the URL permission matrix,
so a page added to the service is benched, or named with a reason, or the bench stops."""

from accounts.navigation import LINKS
from bench import pages
from tests.test_url_permissions import EXPECTATIONS
from tests.url_permissions import Expect

PLANNED = pages.pages_to_bench(EXPECTATIONS)


def _allowed(name: str) -> set[str]:
    return {persona for persona in pages.PERSONAS if EXPECTATIONS[name].expected(persona) == 200}


def test_every_page_about_one_thing_has_its_url_arguments_in_the_bench():
    assert pages.pages_unbuilt(EXPECTATIONS, PLANNED) == []


def test_a_new_page_is_benched_and_a_new_page_about_one_thing_stops_the_bench():
    added = {
        **EXPECTATIONS,
        "new:list": Expect("new:list", statuses={"clinician": 200}),
        "new:detail": Expect("new:detail", statuses={"clinician": 200}, kwargs=lambda w, p, own: {"thing_id": 1}),
    }
    planned = pages.pages_to_bench(added)
    assert {("new:list", "clinician"), ("new:detail", "clinician")} <= set(planned)
    assert pages.pages_unbuilt(added, planned) == ["new:detail"]


def test_the_bench_names_only_pages_the_matrix_has():
    get_pages = {name for name, expect in EXPECTATIONS.items() if expect.method == "get"}
    named = set(pages.NOT_BENCHED) | set(pages.URL_KWARGS) | set(pages.VARIANTS) | pages.PER_ROLE
    assert named - get_pages == set()


def test_every_link_in_every_role_s_navigation_is_benched_for_the_roles_it_answers():
    for link in LINKS:
        allowed = _allowed(link.url_name)
        benched = {persona for name, persona in PLANNED if name == link.url_name}
        assert allowed, link.url_name
        # A page that answers every role alike is benched once; any other for each of its roles.
        assert benched == allowed or (allowed == set(pages.PERSONAS) and len(benched) == 1), link.url_name


def test_the_home_page_is_benched_for_every_role():
    assert {persona for name, persona in PLANNED if name == "accounts:home"} == set(pages.PERSONAS)


def test_every_get_page_that_answers_someone_is_benched_unless_named_with_a_reason():
    answering = {
        name
        for name, expect in EXPECTATIONS.items()
        if expect.method == "get" and (_allowed(name) or expect.expected("anonymous") == 200)
    }
    assert answering - {name for name, _ in PLANNED} == set(pages.NOT_BENCHED) & answering
