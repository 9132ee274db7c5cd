"""Judges a conformance run: each recorded request against the rules the API documents
(docs/fhir.md), and each scenario by its requests, their answers and the tester's confirmation.

Nothing is stored: the report is worked out from the recorded requests whenever it is read,
so a rule made stricter applies to every run still open.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qs

from suppliers.models import ConformanceRequest, ConformanceRun
from suppliers.recording import FHIR_BASE
from suppliers.scenarios import SCENARIOS, Scenario

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
# A refused request sent again within this long is a retry storm (the answer will not change).
REPEAT_AFTER_4XX_WINDOW = timedelta(minutes=5)

RULES = {
    "trace_id": "Every call sends a TraceID",
    "trace_id_unique": "Each call has its own TraceID (the same one only on a retry)",
    "trace_id_retry": "A retry keeps the TraceID of the call it retries",
    "unscheduled": "IsUnscheduledAccessEvent is sent, and is right for the scenario",
    "identifier": "The child is named as https://fhir.nhs.uk/Id/nhs-number|{NHS number}",
    "accept": "Accept asks for application/fhir+json",
    "no_repeat_4xx": "A request the service refused (4xx) is not sent again",
    "retry_wait": "After a 503, the retry waits the Retry-After seconds",
}


@dataclass
class JudgedRequest:
    request: ConformanceRequest
    broken: list[str] = field(default_factory=list)

    @property
    def broken_rules(self) -> list[tuple[str, str]]:
        return [(key, RULES[key]) for key in self.broken]


@dataclass
class ScenarioResult:
    scenario: Scenario
    number: str
    status: str  # "passed", "failed", "not_run", "not_offered"
    requests: list[JudgedRequest]
    problems: list[str]
    confirmation: dict

    @property
    def passed(self) -> bool:
        return self.status in ("passed", "not_offered")

    @property
    def status_label(self) -> str:
        return {"passed": "Passed", "failed": "Failed", "not_run": "Not run", "not_offered": "Not offered"}[self.status]


@dataclass
class Report:
    run: ConformanceRun
    scenarios: list[ScenarioResult]
    unscripted: list[JudgedRequest]

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.scenarios) and not any(r.broken for r in self.unscripted)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "passed": sum(s.status == "passed" for s in self.scenarios),
            "failed": sum(not s.passed for s in self.scenarios),
            "requests": sum(len(s.requests) for s in self.scenarios) + len(self.unscripted),
        }


def _same_call(a: ConformanceRequest, b: ConformanceRequest) -> bool:
    return (a.token_role, a.path, a.query) == (b.token_role, b.path, b.query)


def _is_search(request: ConformanceRequest) -> bool:
    return request.path[len(FHIR_BASE) :] in ("CareTeam", "AuditEvent")


def _judge_request(
    request: ConformanceRequest, earlier: list[ConformanceRequest], scenario: Scenario | None, run: ConformanceRun
) -> list[str]:
    broken = []
    if not request.trace_id:
        broken.append("trace_id")
    else:
        same_trace = [e for e in earlier if e.trace_id == request.trace_id]
        # A TraceID may come again only as the retry of a call the service could not answer.
        if same_trace and not (same_trace[-1].status in (429, 503) and _same_call(same_trace[-1], request)):
            broken.append("trace_id_unique")
    expected = None if scenario is None else ("true" if scenario.unscheduled else "false")
    sent = (request.unscheduled or "").strip().lower()
    if (expected is not None and sent != expected) or (expected is None and sent not in ("", "true", "false")):
        broken.append("unscheduled")
    query = parse_qs(request.query, keep_blank_values=True)
    identifiers = query.get("patient:identifier", [])
    if _is_search(request) and (not identifiers or any(not v.startswith(NHS_NUMBER_SYSTEM + "|") for v in identifiers)):
        broken.append("identifier")
    if "application/fhir+json" not in (request.accept or "").lower():
        broken.append("accept")
    refused = [
        e
        for e in earlier
        if 400 <= e.status < 500
        and e.status != 429
        and _same_call(e, request)
        and request.received_at - e.received_at < REPEAT_AFTER_4XX_WINDOW
    ]
    if refused:
        broken.append("no_repeat_4xx")
    outage = next((e for e in reversed(earlier) if e.injected and _same_call(e, request)), None)
    if outage is not None:
        answered_since = any(
            e.received_at > outage.received_at and e.status < 500 for e in earlier if _same_call(e, request)
        )
        if not answered_since:
            if request.received_at - outage.received_at < timedelta(seconds=run.retry_after_seconds):
                broken.append("retry_wait")
            if request.trace_id != outage.trace_id:
                broken.append("trace_id_retry")
    return broken


def _interaction(request: ConformanceRequest) -> str:
    return request.path[len(FHIR_BASE) :].split("/")[0]


def _scenario_problems(scenario: Scenario, judged: list[JudgedRequest], confirmation: dict) -> list[str]:
    requests = [j.request for j in judged]
    problems = []
    wanted = [r for r in requests if _interaction(r) == scenario.interaction and r.token_role == scenario.token]
    if not any(r.status == scenario.expected_status for r in wanted):
        problems.append(
            f"No {scenario.interaction} request with the {scenario.token} token was answered {scenario.expected_status}"
        )
    if scenario.paged:
        pages = [parse_qs(r.query) for r in wanted if r.status == 200]
        if not any("_count" in q for q in pages) or not any("_offset" in q for q in pages):
            problems.append("The history was not read in pages (_count, then the next link's _offset)")
    if scenario.outage and not any(r.injected for r in requests):
        problems.append("The outage was never met: no request reached the run for this child")
    if scenario.expected_status >= 400:
        statuses = [r.status for r in wanted]
        if statuses.count(scenario.expected_status) > 1:
            problems.append(f"The refused request was sent {statuses.count(scenario.expected_status)} times")
    broken = sorted({key for j in judged for key in j.broken})
    problems += [f"Broke the rule: {RULES[key]}" for key in broken]
    if scenario.confirm and confirmation.get("answer") != "yes":
        problems.append(
            "The tester has not confirmed what the system showed"
            if not confirmation
            else "The tester said the system did not show it"
        )
    return problems


def run_report(run: ConformanceRun) -> Report:
    requests = list(run.requests.all())
    by_key = {scenario.key: scenario for scenario in SCENARIOS}
    judged: list[JudgedRequest] = []
    for index, request in enumerate(requests):
        scenario = by_key.get(request.scenario)
        judged.append(JudgedRequest(request, _judge_request(request, requests[:index], scenario, run)))
    results = []
    for scenario in SCENARIOS:
        mine = [j for j in judged if j.request.scenario == scenario.key]
        confirmation = run.confirmations.get(scenario.key) or {}
        if not mine:
            status = "not_offered" if scenario.optional else "not_run"
            problems = [] if scenario.optional else ["The system made no request for this child"]
        else:
            problems = _scenario_problems(scenario, mine, confirmation)
            status = "failed" if problems else "passed"
        results.append(
            ScenarioResult(scenario, run.numbers.get(scenario.key, ""), status, mine, problems, confirmation)
        )
    return Report(run=run, scenarios=results, unscripted=[j for j in judged if not j.request.scenario])
