"""The PDS client's requests, and how it reads the public PDS sandbox's records
(tests/identity/sandbox/), so it cannot drift from the real API; the local PDS server's project
cases. The server's replay of the sandbox's own scenarios is test_pds_sandbox_replay.py."""

import json
import time
import uuid
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import jwt
import pytest

from identity.keys import generate_key_pair
from identity.pds_client import PdsClient, PdsUnavailable
from identity.records import LookupStatus, record_from_patient
from tests.identity.pds import API_KEY, KEY_ID

SANDBOX = Path(__file__).resolve().parent / "sandbox"


def _sandbox(name: str) -> dict:
    return json.loads((SANDBOX / name).read_text())


def _client(pds, **overrides) -> PdsClient:
    options = {
        "base_url": pds.base_url, "token_url": pds.token_url, "api_key": API_KEY,
        "private_key": pds.private_key.read_text(), "key_id": KEY_ID, "timeout": 2.0, "retries": 1,
        "retry_base": 0.01, "rate_per_second": 1000.0,
    }  # fmt: skip
    options.update(overrides)
    return PdsClient(**options)


# --- the client reads the sandbox's records -------------------------------------------------


def test_client_reads_the_sandbox_patient():
    record = record_from_patient("9000000009", _sandbox("patient_9000000009.json"))
    assert record.status == LookupStatus.FOUND and not record.sensitive and record.deceased
    assert record.names == (("Smith", ("Jane",)),)
    assert record.date_of_birth == date(2010, 10, 22)


def test_client_keeps_nothing_of_the_sandbox_sensitive_patient_but_the_flags():
    record = record_from_patient("9000000025", _sandbox("patient_9000000025.json"))
    assert record.sensitive and record.deceased and record.names == () and record.date_of_birth is None


def test_client_reads_the_sandbox_patient_with_minimal_data_as_found_with_no_details():
    record = record_from_patient("9000000033", _sandbox("patient_9000000033.json"))
    assert (record.status, record.sensitive, record.deceased) == (LookupStatus.FOUND, False, False)
    assert record.names == () and record.date_of_birth is None


def test_a_patient_returned_under_another_number_is_superseded():
    record = record_from_patient("9000001013", _sandbox("patient_9000000009.json"))
    assert (record.status, record.replacement) == (LookupStatus.SUPERSEDED, "9000000009")


# --- the local server's own cases -----------------------------------------------------------


def _get(pds, path: str, **headers) -> httpx.Response:
    token = _client(pds)._access_token()
    default = {"Authorization": f"Bearer {token}", "X-Request-ID": str(uuid.uuid4())}
    default.update(headers)
    return httpx.get(f"{pds.base_url}{path}", headers={k: v for k, v in default.items() if v is not None})


@pytest.mark.parametrize("sensitive", [False, True])
def test_local_server_project_patient_has_the_sandbox_shape(pds, sensitive):
    """The project's patients are written by demo/pds/server.py, not copied: each field it writes
    is one the sandbox's record of the same kind has, with the same shape."""
    sandbox = _sandbox("patient_9000000025.json" if sensitive else "patient_9000000009.json")
    pds.add({"nhs_number": "9000001064", "family": "Evans", "given": ["Ruby"], "birth_date": "2015-05-05",
             "gender": "female", "sensitive": sensitive})  # fmt: skip
    response = _get(pds, "/Patient/9000001064")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/fhir+json"
    assert response.headers["ETag"] == 'W/"2"'
    ours = response.json()
    assert set(ours) <= set(sandbox), "a field the sandbox's record does not have"
    assert ours["resourceType"] == sandbox["resourceType"]
    assert ours["identifier"][0]["system"] == sandbox["identifier"][0]["system"]
    assert ours["identifier"][0]["value"] == ours["id"] == "9000001064"
    assert ours["meta"]["security"] == sandbox["meta"]["security"]
    assert set(ours["name"][0]) <= set(sandbox["name"][0])
    for key in ("address", "generalPractitioner"):
        if key in ours:
            assert set(ours[key][0]) <= set(sandbox[key][0])
    record = record_from_patient("9000001064", ours)
    assert (record.sensitive, record.deceased) == (sensitive, False)
    assert record.names == (() if sensitive else (("Evans", ("Ruby",)),))


def test_local_server_simulates_superseded_invalidated_and_outage(pds):
    client = _client(pds)
    superseded = client.lookup("9000001013")
    assert (superseded.status, superseded.replacement) == (LookupStatus.SUPERSEDED, "9000001005")
    assert client.lookup("9000001005").names == (("Brown", ("Oliver", "James")),)
    assert client.lookup("9000001021").status == LookupStatus.INVALIDATED
    assert client.lookup("9000000009").deceased
    with pytest.raises(PdsUnavailable):
        client.lookup("9000001056")  # always 503
    pds.control(outage=True)
    with pytest.raises(PdsUnavailable):
        client.lookup("9000000009")


# --- the client's requests ------------------------------------------------------------------


def test_client_requests_follow_the_platform(tmp_path):
    private, public = generate_key_pair(tmp_path, key_size=2048)
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": "t0k", "expires_in": "599", "token_type": "Bearer"})
        return httpx.Response(200, json=_sandbox("patient_9000000009.json"))

    client = PdsClient(
        base_url="https://pds.test/personal-demographics/FHIR/R4", token_url="https://pds.test/oauth2/token",
        api_key=API_KEY, private_key=private.read_text(), key_id=KEY_ID, transport=httpx.MockTransport(answer),
    )  # fmt: skip
    client.lookup("9000000009")
    client.lookup("9000000009")
    token_request, first, second = seen  # one token, reused
    form = {k: v[0] for k, v in parse_qs(token_request.content.decode()).items()}
    assert form["grant_type"] == "client_credentials"
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    header = jwt.get_unverified_header(form["client_assertion"])
    assert (header["alg"], header["kid"], header["typ"]) == ("RS512", KEY_ID, "JWT")
    claims = jwt.decode(
        form["client_assertion"], public.read_text(), algorithms=["RS512"], audience="https://pds.test/oauth2/token"
    )
    assert claims["iss"] == claims["sub"] == API_KEY
    assert uuid.UUID(claims["jti"]) and claims["exp"] <= time.time() + 300
    assert first.method == "GET" and first.url.path == "/personal-demographics/FHIR/R4/Patient/9000000009"
    assert first.headers["Authorization"] == "Bearer t0k"
    assert first.headers["Accept"] == "application/fhir+json"
    assert uuid.UUID(first.headers["X-Request-ID"]) != uuid.UUID(second.headers["X-Request-ID"])


def test_client_retries_with_back_off_then_gives_up(tmp_path):
    private, _ = generate_key_pair(tmp_path, key_size=2048)
    answers = [httpx.Response(503), httpx.Response(429, headers={"Retry-After": "0"})]
    calls = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": "599"})
        calls.append(request)
        return answers.pop(0) if answers else httpx.Response(200, json=_sandbox("patient_9000000009.json"))

    client = PdsClient(
        base_url="https://pds.test/R4", token_url="https://pds.test/oauth2/token", api_key=API_KEY,
        private_key=private.read_text(), key_id=KEY_ID, retries=2, retry_base=0.01, transport=httpx.MockTransport(answer),
    )  # fmt: skip
    assert client.lookup("9000000009").status == LookupStatus.FOUND and len(calls) == 3
    answers.extend([httpx.Response(500)] * 3)
    with pytest.raises(PdsUnavailable):
        client.lookup("9000000009")


def test_token_endpoint_refuses_bad_assertions(pds, tmp_path):
    other_private, _ = generate_key_pair(tmp_path, key_size=2048)
    with pytest.raises(PdsUnavailable):
        _client(pds, private_key=other_private.read_text())._access_token()
    with pytest.raises(PdsUnavailable):
        _client(pds, token_url=pds.token_url + "/elsewhere")._access_token()
    client = _client(pds)
    assertion = client.client_assertion()
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    assert httpx.post(pds.token_url, data=form).status_code == 200
    replay = httpx.post(pds.token_url, data=form)
    assert replay.status_code == 400 and "jti" in replay.json()["error_description"]


def test_lookups_run_concurrently_within_the_limits(pds):
    numbers = ["9000000009", "9000000025", "9000001005", "9000001013"] * 3
    pds.control(latency_ms=200, reset_stats=True)
    answers = []
    started = time.monotonic()
    _client(pds, concurrency=4).lookup_many(numbers, on_result=answers.append)
    elapsed = time.monotonic() - started
    assert len(answers) == 12
    assert 2 <= pds.stats()["max_in_flight"] <= 4
    assert elapsed < 12 * 0.2  # faster than one at a time
    pds.control(latency_ms=0)
    started = time.monotonic()
    _client(pds, concurrency=4, rate_per_second=10).lookup_many(numbers[:6], on_result=answers.append)
    assert time.monotonic() - started >= 0.45  # six starts at ten a second
