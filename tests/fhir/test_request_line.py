"""A long request line over gunicorn as deployed: answered as FHIR up to gunicorn's own limit
(issue 24 item 11)."""

import json

import pytest

from tests.fhir.gunicorn import get, gunicorn

# gunicorn runs on the test database and commits there: flushed afterwards.
pytestmark = pytest.mark.django_db(transaction=True)

QUERY = "patient:identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919"


def test_a_request_line_gunicorn_used_to_refuse_is_answered_as_fhir():
    with gunicorn() as port:
        # About 6 KB: past gunicorn's default limit (4094), inside ours (8190).
        status, headers, body = get(port, f"/fhir/R4/CareTeam?{QUERY}&_elements={'y' * 6000}")
        assert status == 414
        assert headers["Content-Type"] == "application/fhir+json; fhirVersion=4.0"
        issue = json.loads(body)["issue"][0]
        assert issue["code"] == "too-long" and issue["details"]["coding"][0]["code"] == "INVALID_PARAMETER"
        # An ordinary search still reaches the API (401: no token).
        status, headers, _ = get(port, f"/fhir/R4/CareTeam?{QUERY}")
        assert status == 401 and headers["Content-Type"].startswith("application/fhir+json")
        # Past 8190 bytes gunicorn answers before Django, with its own page (docs/fhir.md).
        status, headers, _ = get(port, f"/fhir/R4/CareTeam?{QUERY}&_elements={'y' * 9000}")
        assert status == 414 and not headers.get("Content-Type", "").startswith("application/fhir+json")
