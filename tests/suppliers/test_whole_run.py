"""A whole conformance run against a live server (gunicorn, as the API is served), driven by
fhirpy as the supplier's system: a correct one passes and is accredited; a broken one (no
TraceID, retries at once after the 503) fails the scenarios it should, for the rules it broke."""

import pytest
from django.test import Client

from suppliers.judge import run_report
from suppliers.models import AccreditationState
from suppliers.services import system_accredit
from tests.fhir.gunicorn import gunicorn
from tests.suppliers.epr import Epr

pytestmark = pytest.mark.django_db(transaction=True)


def _confirm_everything(key: str):
    answers = {"tester": "Tess Tester"}
    from suppliers.scenarios import SCENARIOS

    for scenario in SCENARIOS:
        if scenario.confirm:
            answers[f"answer_{scenario.key}"] = "yes"
    response = Client().post(f"/conformance/{key}/", answers)
    assert response.status_code == 302


def test_a_correct_system_passes_and_its_version_is_accredited(opened, system, role_user):
    with gunicorn() as port:
        epr = Epr(f"http://127.0.0.1:{port}/fhir/R4", {"clinician": opened.clinician_token, "lead": opened.lead_token})
        seen = epr.run_script(opened.run.numbers)
    assert seen["on_plan"]["total"] == 1 and seen["two_las"]["total"] == 2 and seen["no_plan"]["total"] == 0
    assert seen["invalid_number"] == "refused" and seen["silent_refused"] == "forbidden"
    assert seen["outage"]["total"] == 1
    assert len([e for e in seen["paging"] if e["search"]["mode"] == "match"]) == 7
    _confirm_everything(opened.access_key)
    opened.run.refresh_from_db()
    report = run_report(opened.run)
    assert {r.scenario.key: (r.status, r.problems) for r in report.scenarios if not r.passed} == {}
    assert report.passed and not any(j.broken for r in report.scenarios for j in r.requests)
    assert [r.status for r in opened.run.requests.filter(scenario="outage")] == [503, 200]
    system_accredit(run=opened.run, by=role_user("national_admin"))
    system.refresh_from_db()
    assert system.state == AccreditationState.ACCREDITED and system.accredited_version == "4.2"


def test_a_broken_system_fails_the_right_scenarios(opened):
    with gunicorn() as port:
        epr = Epr(
            f"http://127.0.0.1:{port}/fhir/R4",
            {"clinician": opened.clinician_token, "lead": opened.lead_token},
            broken=True,
        )
        seen = epr.run_script(opened.run.numbers)
    # It still shows the plan: the retry at once after the one 503 was answered.
    assert seen["outage"]["total"] == 1
    _confirm_everything(opened.access_key)
    opened.run.refresh_from_db()
    report = run_report(opened.run)
    results = {r.scenario.key: r for r in report.scenarios}
    assert not report.passed
    assert all(r.status == "failed" for r in results.values())
    # Every scenario for the missing TraceID; the outage also for not waiting its Retry-After.
    broken = {key: {rule for j in r.requests for rule in j.broken} for key, r in results.items()}
    assert broken["outage"] == {"trace_id", "retry_wait"}
    assert all(rules == {"trace_id"} for key, rules in broken.items() if key != "outage")
    assert [r.status for r in opened.run.requests.filter(scenario="outage")] == [503, 200]
