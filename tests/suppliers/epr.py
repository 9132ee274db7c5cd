"""A supplier's system for the conformance tests, written with fhirpy: it checks children,
reads their history page by page and retries after a 503 as the API documents it (or, broken,
sends no TraceID and retries at once)."""

import time
import uuid
from urllib.parse import parse_qsl, urlsplit

from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import ForbiddenError, OperationOutcome

NHS = "https://fhir.nhs.uk/Id/nhs-number"


class Epr:
    def __init__(self, base: str, tokens: dict[str, str], *, broken: bool = False):
        self.base = base
        self.tokens = tokens
        self.broken = broken
        self.last_headers: dict = {}

    def _client(self, role: str, trace_id: str, unscheduled: bool) -> SyncFHIRClient:
        headers = {"IsUnscheduledAccessEvent": "true" if unscheduled else "false"}
        if not self.broken:
            headers["TraceID"] = trace_id

        def keep(response, *args, **kwargs):
            self.last_headers = dict(response.headers)

        return SyncFHIRClient(
            self.base,
            authorization=f"Bearer {self.tokens[role]}",
            extra_headers=headers,
            requests_config={"hooks": {"response": keep}, "timeout": 30},
        )

    def search(self, role: str, resource: str, params: dict, *, unscheduled: bool = True) -> dict | str:
        """One call (a fresh TraceID), retried after a 503: a bundle, or the refusal's kind."""
        trace_id = str(uuid.uuid4())
        for _attempt in range(4):
            try:
                return self._client(role, trace_id, unscheduled).resources(resource).search(**params).fetch_raw()
            except ForbiddenError:
                return "forbidden"
            except OperationOutcome as error:
                issue = (error.resource or {}).get("issue", [{}])[0] if hasattr(error, "resource") else {}
                if issue.get("code") != "transient":
                    return "refused"
                if not self.broken:
                    time.sleep(float(self.last_headers.get("Retry-After", "30")) + 0.2)
        return "gave up"

    def check(self, nhs_number: str, *, role: str = "clinician", unscheduled: bool = True):
        return self.search(role, "CareTeam", {"patient:identifier": f"{NHS}|{nhs_number}"}, unscheduled=unscheduled)

    def history(self, nhs_number: str, *, count: int | None = None) -> list[dict]:
        params = {"patient:identifier": f"{NHS}|{nhs_number}"}
        if count:
            params["_count"] = count
        entries = []
        while True:
            bundle = self.search("clinician", "AuditEvent", params)
            entries += bundle.get("entry", [])
            following = [link["url"] for link in bundle.get("link", []) if link["relation"] == "next"]
            if not following:
                return entries
            params = dict(parse_qsl(urlsplit(following[0]).query))

    def run_script(self, numbers: dict[str, str]) -> dict:
        """Every scenario, as a system that offers a silent read does it."""
        seen = {}
        for key in ("on_plan", "two_las", "unborn", "no_plan", "invalid_number", "ended", "outage"):
            seen[key] = self.check(numbers[key])
        seen["silent_read"] = self.check(numbers["silent_read"], role="lead", unscheduled=False)
        seen["silent_refused"] = self.check(numbers["silent_refused"], unscheduled=False)
        for key, count in (("history", None), ("paging", 2)):
            self.check(numbers[key])
            seen[key] = self.history(numbers[key], count=count)
        return seen
