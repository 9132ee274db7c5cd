"""The API's answers: the JSON response every interaction returns, and the OperationOutcomes
it refuses with, one constructor per national error code (docs/fhir.md "Errors")."""

import json

from django.http import HttpResponse

from fhir import interactions as http
from fhir import representations as resources
from fhir.interactions import FhirError

FHIR_JSON = http.FHIR_JSON

ACCESS_DENIED_DISPLAY = "Access has been denied to process this request"

_REALM = "CP-IS FHIR API"


def invalid_search(diagnostics: str = "Invalid NHS number") -> FhirError:
    return FhirError(400, "INVALID_SEARCH_DATA", "invalid", "Invalid search data", diagnostics)


def precondition(diagnostics: str) -> FhirError:
    return FhirError(400, "PRECONDITION_FAILED", "invalid", "Precondition failed", diagnostics)


def access_denied(diagnostics: str = ACCESS_DENIED_DISPLAY) -> FhirError:
    return FhirError(403, "ACCESS_DENIED", "forbidden", ACCESS_DENIED_DISPLAY, diagnostics)


def unauthorised(diagnostics: str, *, token_presented: bool) -> FhirError:
    error = FhirError(401, "ACCESS_DENIED", "login", ACCESS_DENIED_DISPLAY, diagnostics)
    # RFC 6750 section 3: the scheme to use, and an error code only when a token was sent.
    error.headers["WWW-Authenticate"] = (
        f'Bearer realm="{_REALM}", error="invalid_token"' if token_presented else f'Bearer realm="{_REALM}"'
    )
    return error


def not_found(diagnostics: str) -> FhirError:
    return FhirError(404, "NO_RECORD_FOUND", "not-found", "No record found", diagnostics)


def method_not_allowed(method: str) -> FhirError:
    return FhirError(
        405, "METHOD_NOT_ALLOWED", "not-supported", "Method not allowed", f"{method} is not supported; use GET"
    )


def too_many(diagnostics: str, retry_after: int) -> FhirError:
    error = FhirError(429, "TOO_MANY_REQUESTS", "throttled", "Too many requests", diagnostics)
    error.headers["Retry-After"] = str(retry_after)
    return error


def fhir_response(body: dict, *, status: int = 200, trace_id: str = "", content_type: str = FHIR_JSON) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type=http.content_type_header(content_type))
    if trace_id:
        response["TraceID"] = trace_id
    response["Cache-Control"] = "no-store"
    return response


def error_response(error: FhirError, trace_id: str) -> HttpResponse:
    body = resources.operation_outcome(
        code=error.code, issue_type=error.issue_type, display=error.display, diagnostics=error.diagnostics
    )
    response = fhir_response(body, status=error.status, trace_id=trace_id)
    for name, value in error.headers.items():
        response[name] = value
    return response
