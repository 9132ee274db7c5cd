"""Errors Django answers for the API (a crash, the database or Redis unreachable, a request it
refuses before any view) are FHIR under the base; on the web, the NHS.UK pages, with "service
unavailable" (503) while the database is unreachable (issue 25 item 5). The same with the
database really unreachable, over gunicorn: tests/test_database_outage.py."""

import pytest
from django.test import Client, override_settings

from tests.fhir.responses import outcome

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


@override_settings(ROOT_URLCONF="tests.fhir.crashing_urls")
@pytest.mark.parametrize("failure", ["database", "redis"])
def test_an_outage_under_the_base_is_a_503_operation_outcome_with_retry_after(client, failure):
    response = client.get(f"/fhir/R4/failing/{failure}", HTTP_TRACEID="{3F2504E0-4F89-11D3-9A0C-0305E82C3301}")
    issue = outcome(response, 503, "SERVICE_UNAVAILABLE")
    assert issue.code == "transient"
    assert response["Retry-After"] == "30"
    assert response["TraceID"] == "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}"
    # Nothing from the exception reaches the client.
    assert "127.0.0.1" not in response.content.decode()


@override_settings(ROOT_URLCONF="tests.fhir.crashing_urls")
def test_a_crash_under_the_base_is_a_500_operation_outcome(client):
    response = client.get("/fhir/R4/failing/bug")
    issue = outcome(response, 500, "INTERNAL_SERVER_ERROR")
    assert issue.code == "exception"
    assert "Retry-After" not in response
    assert "9434765919" not in response.content.decode()


@override_settings(ROOT_URLCONF="tests.fhir.crashing_urls")
def test_the_web_shows_the_service_unavailable_page_while_the_database_is_unreachable(client):
    response = client.get("/failing/database")
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "<title>Sorry, the service is unavailable – CP-IS</title>" in page
    assert "emergency duty team" in page
    # A bug is still the problem page, not "unavailable".
    response = client.get("/failing/bug")
    assert response.status_code == 500 and "Retry-After" not in response
    assert "Sorry, there is a problem with the service" in response.content.decode()


def test_a_request_django_refuses_before_any_view_is_a_400_operation_outcome(client, settings):
    # More parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS: Django refuses to read them (handler400).
    query = "&".join(["c"] * (settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = client.get(f"/fhir/R4/CareTeam?{query}")
    outcome(response, 400, "INVALID_PARAMETER")
    # The web keeps its own page.
    response = client.get(f"/login/?{query}")
    assert response.status_code == 400 and response["Content-Type"].startswith("text/html")
