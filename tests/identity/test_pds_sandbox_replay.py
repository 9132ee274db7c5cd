"""The local PDS server (demo/pds/server.py) replays the PDS sandbox: each of the sandbox's
scenarios for `GET /Patient/{id}` (tests/identity/sandbox/scenarios.json) gets the status,
headers and body the sandbox gives, so a test suite written against the sandbox passes here."""

import json
import uuid
from pathlib import Path

import httpx
import pytest

SANDBOX = Path(__file__).resolve().parent / "sandbox"
CATALOGUE = json.loads((SANDBOX / "scenarios.json").read_text())


def _expected_body(scenario: dict) -> dict:
    """The sandbox's response file with its #(...) placeholders filled as its handler fills them."""
    body = json.loads((SANDBOX / scenario["body"]).read_text())
    if body.get("resourceType") == "OperationOutcome":
        issue = body["issue"][0]
        for name, value in scenario.get("fill", {}).items():
            if name == "display":
                issue["details"]["coding"][0]["display"] = value
            else:
                issue[name] = value
    assert "#(" not in json.dumps(body), f"{scenario['name']}: a placeholder the handler would fill"
    return body


def _ask(pds, scenario: dict, *, mode: str) -> tuple[httpx.Response, dict]:
    headers = {"X-Request-ID": str(uuid.uuid4()), "X-Correlation-ID": "replay-correlation-1"}
    if mode == "platform" and "Authorization" not in scenario.get("headers", {}):
        # The platform wants its own token where the sandbox wants none: the one difference.
        headers["Authorization"] = pds.bearer()
    headers.update(scenario.get("headers", {}))
    sent = {name: value for name, value in headers.items() if value is not None}
    return httpx.get(f"{pds.base_url}/Patient/{scenario['id']}", headers=sent, timeout=5), sent


SCENARIOS = [
    pytest.param(scenario, mode, id=f"{mode}: {scenario['name']}")
    for scenario in CATALOGUE["scenarios"]
    for mode in scenario.get("modes", ["sandbox", "platform"])
]


@pytest.mark.parametrize(("scenario", "mode"), SCENARIOS)
def test_local_server_answers_each_sandbox_scenario_as_the_sandbox(pds, scenario, mode):
    pds.control(auth=mode)
    response, sent = _ask(pds, scenario, mode=mode)
    assert response.status_code == scenario["status"]
    assert response.headers["Content-Type"].split(";")[0] == "application/fhir+json"
    for mirrored in ("X-Request-ID", "X-Correlation-ID"):
        assert response.headers.get(mirrored) == sent.get(mirrored)
    assert response.headers.get("ETag") == scenario.get("etag")
    assert response.json() == _expected_body(scenario)


@pytest.mark.parametrize("mode", ["sandbox", "platform"])
def test_local_server_holds_exactly_the_sandbox_patients(pds, mode):
    pds.control(auth=mode)
    token = {} if mode == "sandbox" else {"Authorization": pds.bearer()}
    for number in CATALOGUE["patients"]:
        response = httpx.get(
            f"{pds.base_url}/Patient/{number}", headers={"X-Request-ID": str(uuid.uuid4()), **token}, timeout=5
        )
        assert response.status_code == 200, number
        patient = response.json()
        assert patient["id"] == number and patient["resourceType"] == "Patient"
        assert response.headers["ETag"] == f'W/"{patient["meta"]["versionId"]}"'


def test_the_platform_mode_wants_a_token_of_its_own(pds):
    """The one place the default mode parts from the sandbox: no token, or one it did not issue."""
    headers = {"X-Request-ID": str(uuid.uuid4())}
    missing = httpx.get(f"{pds.base_url}/Patient/9000000009", headers=headers, timeout=5)
    foreign = httpx.get(
        f"{pds.base_url}/Patient/9000000009", headers={**headers, "Authorization": "Bearer abc123"}, timeout=5
    )
    assert (missing.status_code, foreign.status_code) == (401, 401)
    assert missing.json()["issue"][0]["diagnostics"] == "Missing access token"
    assert foreign.json()["issue"][0]["diagnostics"] == "Invalid Access Token"
    pds.control(auth="sandbox")
    assert httpx.get(f"{pds.base_url}/Patient/9000000009", headers=headers, timeout=5).status_code == 200


# --- where the local server used to differ from the sandbox (issue 24, item 12) -------------


def _read(pds, number: str, **headers) -> httpx.Response:
    sent = {"X-Request-ID": str(uuid.uuid4()), "Authorization": pds.bearer()}
    sent.update(headers)
    return httpx.get(f"{pds.base_url}/Patient/{number}", headers=sent, timeout=5)


def test_9000000033_is_the_sandbox_patient_with_minimal_data_not_a_superseded_number(pds):
    response = _read(pds, "9000000033")
    assert response.status_code == 200
    patient = response.json()
    assert patient["id"] == "9000000033"
    assert "name" not in patient and "birthDate" not in patient


@pytest.mark.parametrize("number", ["9000000009", "9000000025"])
def test_the_sandbox_patients_9000000009_and_9000000025_are_deceased(pds, number):
    patient = _read(pds, number).json()
    assert patient["deceasedDateTime"] == "2010-10-22T00:00:00+00:00"


def test_not_found_is_the_sandbox_outcome(pds):
    response = _read(pds, "9111231130")
    assert response.status_code == 404
    (issue,) = response.json()["issue"]
    assert (issue["code"], issue["severity"]) == ("not-found", "information")
    assert issue["details"]["coding"][0]["code"] == "RESOURCE_NOT_FOUND"


def test_a_request_id_that_is_not_a_uuid_is_refused_as_the_sandbox_refuses_it(pds):
    response = _read(pds, "9000000009", **{"X-Request-ID": "1234-not-a-uuid"})
    assert response.status_code == 400
    assert response.headers["X-Request-ID"] == "1234-not-a-uuid"
    (issue,) = response.json()["issue"]
    assert issue["details"]["coding"][0]["code"] == "INVALID_VALUE"
    assert issue["diagnostics"] == "Invalid value - '1234-not-a-uuid' in header 'X-Request-ID'"


def test_a_missing_request_id_is_400_missing_value_as_in_the_sandbox(pds):
    sent = {"Authorization": pds.bearer()}
    response = httpx.get(f"{pds.base_url}/Patient/9000000009", headers=sent, timeout=5)
    assert response.status_code == 400
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "MISSING_VALUE"
