"""The FHIR R4 API, compatible with the national CP-IS FHIR API (a thin layer over the check).

Every call answers `application/fhir+json; fhirVersion=4.0`, echoes the caller's TraceID, and
is audited: a check through the same `child_check` service as the web journey, a history read
as FHIR_ACCESS_HISTORY_READ, anything refused as FHIR_REQUEST_REFUSED with the reason. How
requests are read (format, paging, includes) is in `fhir.interactions`; the resources' shapes
in `fhir.representations`; the rules in docs/fhir.md.

One module per interaction, each in the order a request meets it:

- `gate`: what every interaction passes first (`fhir_search`: format, TraceID, token, rate
  limit, access header, roles) and the audit of a refusal;
- `checks`: the NHS number a search names, and the check through `child_check`;
- `care_team`, `audit_event`, `patient_flag`, `read`: the searches and the read by id;
  `history`: the history read the last two share;
- `metadata`: the CapabilityStatement; `fallbacks`: unknown paths, Django's 400 and 500;
- `outcomes`: the responses and the OperationOutcomes refusals answer with.
"""

from fhir.api.audit_event import audit_event_search
from fhir.api.care_team import care_team_search
from fhir.api.fallbacks import bad_request, server_error, unknown_resource
from fhir.api.gate import ApiCall, fhir_search
from fhir.api.metadata import metadata
from fhir.api.outcomes import FHIR_JSON
from fhir.api.patient_flag import patient_flag_search
from fhir.api.read import resource_read

__all__ = [
    "FHIR_JSON",
    "ApiCall",
    "audit_event_search",
    "bad_request",
    "care_team_search",
    "fhir_search",
    "metadata",
    "patient_flag_search",
    "resource_read",
    "server_error",
    "unknown_resource",
]
