"""Each rule the judge applies: a request that keeps it and one that breaks it, recorded as the
run's middleware records them (through the whole stack, with the run's own tokens)."""

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from suppliers.judge import run_report

pytestmark = pytest.mark.django_db


def _new():
    return str(uuid.uuid4())


def _broken(opened):
    report = run_report(opened.run)
    return [judged.broken for result in report.scenarios for judged in result.requests] + [
        judged.broken for judged in report.unscripted
    ]


def _good(**extra):
    return {"TraceID": _new(), "IsUnscheduledAccessEvent": "true", **extra}


def test_trace_id_present(opened, fhir_get):
    number = opened.run.numbers["on_plan"]
    fhir_get(opened.clinician_token, "CareTeam", number, **_good())
    fhir_get(opened.clinician_token, "CareTeam", number, IsUnscheduledAccessEvent="true")
    assert _broken(opened) == [[], ["trace_id"]]


def test_trace_id_unique_per_call(opened, fhir_get):
    trace = _new()
    fhir_get(opened.clinician_token, "CareTeam", opened.run.numbers["on_plan"], **_good(TraceID=trace))
    fhir_get(opened.clinician_token, "CareTeam", opened.run.numbers["two_las"], **_good(TraceID=trace))
    assert _broken(opened) == [[], ["trace_id_unique"]]


def test_trace_id_kept_on_the_retry_after_503_and_the_wait(opened, fhir_get):
    number = opened.run.numbers["outage"]
    trace = _new()
    first = fhir_get(opened.clinician_token, "CareTeam", number, **_good(TraceID=trace))
    assert first.status_code == 503 and first["Retry-After"] == "1" and first["TraceID"] == trace
    with time_machine.travel(timezone.now() + timedelta(seconds=2)):
        retry = fhir_get(opened.clinician_token, "CareTeam", number, **_good(TraceID=trace))
    assert retry.status_code == 200 and retry.json()["total"] == 1
    assert _broken(opened) == [[], []]


def test_a_retry_with_a_new_trace_id_breaks_the_retry_rule(opened, fhir_get):
    number = opened.run.numbers["outage"]
    fhir_get(opened.clinician_token, "CareTeam", number, **_good())
    with time_machine.travel(timezone.now() + timedelta(seconds=2)):
        fhir_get(opened.clinician_token, "CareTeam", number, **_good())
    assert _broken(opened) == [[], ["trace_id_retry"]]


def test_a_retry_at_once_after_503_breaks_the_wait(opened, fhir_get):
    number = opened.run.numbers["outage"]
    trace = _new()
    fhir_get(opened.clinician_token, "CareTeam", number, **_good(TraceID=trace))
    fhir_get(opened.clinician_token, "CareTeam", number, **_good(TraceID=trace))
    assert _broken(opened) == [[], ["retry_wait"]]
    # The 503 is injected once only: the hasty retry was answered.
    assert [r.status for r in opened.run.requests.all()] == [503, 200]


@pytest.mark.parametrize(("sent", "broken"), [("true", []), ("false", ["unscheduled"]), (None, ["unscheduled"])])
def test_is_unscheduled_access_event_right_for_the_scenario(opened, fhir_get, sent, broken):
    headers = {"TraceID": _new()}
    if sent is not None:
        headers["IsUnscheduledAccessEvent"] = sent
    fhir_get(opened.lead_token, "CareTeam", opened.run.numbers["on_plan"], **headers)
    assert _broken(opened) == [broken]


def test_a_silent_read_must_say_false(opened, fhir_get):
    number = opened.run.numbers["silent_read"]
    fhir_get(opened.lead_token, "CareTeam", number, **_good(IsUnscheduledAccessEvent="false"))
    fhir_get(opened.lead_token, "CareTeam", number, **_good(IsUnscheduledAccessEvent="true"))
    assert _broken(opened) == [[], ["unscheduled"]]


def test_identifier_system(opened, fhir_get):
    number = opened.run.numbers["on_plan"]
    fhir_get(opened.clinician_token, "CareTeam", number, **_good())
    fhir_get(
        opened.clinician_token,
        "CareTeam",
        params={"patient:identifier": f"urn:oid:2.16.840.1.113883.2.1.4.1|{number}"},
        **_good(),
    )
    assert _broken(opened) == [[], ["identifier"]]


def test_accept(opened, fhir_get):
    number = opened.run.numbers["on_plan"]
    fhir_get(opened.clinician_token, "CareTeam", number, **_good(Accept="application/fhir+json"))
    fhir_get(opened.clinician_token, "CareTeam", number, **_good(Accept="*/*"))
    assert _broken(opened) == [[], ["accept"]]


def test_no_repeat_of_a_refused_request(opened, fhir_get):
    number = opened.run.numbers["invalid_number"]
    first = fhir_get(opened.clinician_token, "CareTeam", number, **_good())
    assert first.status_code == 400
    fhir_get(opened.clinician_token, "CareTeam", number, **_good())
    assert _broken(opened) == [[], ["no_repeat_4xx"]]
    refused = fhir_get(
        opened.clinician_token,
        "CareTeam",
        opened.run.numbers["silent_refused"],
        **_good(IsUnscheduledAccessEvent="false"),
    )
    assert refused.status_code == 403


def test_a_scenario_passes_only_with_its_answer_and_the_testers_confirmation(opened, fhir_get):
    from suppliers.services import conformance_confirm

    fhir_get(opened.clinician_token, "CareTeam", opened.run.numbers["on_plan"], **_good())
    result = {r.scenario.key: r for r in run_report(opened.run).scenarios}["on_plan"]
    assert result.status == "failed" and result.problems == ["The tester has not confirmed what the system showed"]
    conformance_confirm(run=opened.run, answers={"on_plan": {"answer": "yes", "note": ""}}, tester="T. Ester")
    result = {r.scenario.key: r for r in run_report(opened.run).scenarios}["on_plan"]
    assert result.status == "passed"
    assert {r.scenario.key: r.status for r in run_report(opened.run).scenarios}["silent_read"] == "not_offered"
    assert {r.scenario.key: r.status for r in run_report(opened.run).scenarios}["two_las"] == "not_run"


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("CareTeam?patient:identifier=%00", {"TraceID": "a b"}),
        ("CareTeam/not-an-id", {"Accept": "application/fhir+xml"}),
        ("CareTeam/00000000-0000-0000-0000-000000000000", {"IsUnscheduledAccessEvent": "\u00e9"}),
        ("Patient/%00%0a", {"TraceID": "x" * 400}),
        ("AuditEvent?patient:identifier=" + "9" * 3000, {}),
        ("CareTeam?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|%F0%9F%98%80", {}),
    ],
)
def test_hostile_requests_under_a_run_token_are_answered_recorded_and_judged(opened, client, path, headers):
    extra = {f"HTTP_{k.upper()}": v for k, v in headers.items()}
    answer = client.get(f"/fhir/R4/{path}", HTTP_AUTHORIZATION=f"Bearer {opened.clinician_token}", **extra)
    assert 400 <= answer.status_code < 500
    assert opened.run.requests.count() == 1
    report = run_report(opened.run)
    assert not report.passed and report.unscripted[0].broken
    assert opened.run.requests.get().status == answer.status_code
