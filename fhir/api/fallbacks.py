"""What the base answers outside its interactions, always as FHIR and never as a page: an
unknown resource, and Django's handler400 and handler500 under `/fhir/R4/` (cpis/urls.py)."""

import sys

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from core.trace_ids import TRACE_ID
from cpis.resilience import OUTAGE_RETRY_AFTER_SECONDS, is_outage
from fhir import interactions as http
from fhir.api.outcomes import error_response, not_found
from fhir.interactions import FhirError


@csrf_exempt
@login_not_required
def unknown_resource(request, resource: str) -> HttpResponse:
    """Anything else under the base, whatever the method: an OperationOutcome, never a page."""
    try:
        http.refuse_long_query(request)
    except FhirError as too_long:
        return error_response(too_long, "")
    return error_response(not_found(f"Unknown resource or interaction: {request.path}"), "")


def server_error(request) -> HttpResponse:
    """Django's handler500 under the base (cpis/urls.py): what crashed, anywhere from the first
    middleware to the view, answered as FHIR. The database or Redis unreachable is a 503 with
    Retry-After, which an EPR retries; anything else a 500. Touches neither: both may be down."""
    trace_id = request.headers.get("TraceID", "")
    if is_outage(sys.exception()):
        error = FhirError(
            503,
            "SERVICE_UNAVAILABLE",
            "transient",
            "Service unavailable",
            "The service cannot reach its database or cache just now; retry after the Retry-After seconds",
        )
        error.headers["Retry-After"] = str(OUTAGE_RETRY_AFTER_SECONDS)
    else:
        error = FhirError(
            500,
            "INTERNAL_SERVER_ERROR",
            "exception",
            "Unexpected internal server error",
            "Unexpected internal server error; it has been logged",
        )
    return error_response(error, trace_id if TRACE_ID.match(trace_id) else "")


def bad_request(request, exception=None) -> HttpResponse:
    """Django's handler400 under the base: a request Django refuses before any view (more
    parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS, a host not allowed), answered as FHIR."""
    error = http.invalid_parameter("The request could not be read: too many parameters, or a malformed request")
    trace_id = request.headers.get("TraceID", "")
    return error_response(error, trace_id if TRACE_ID.match(trace_id) else "")
