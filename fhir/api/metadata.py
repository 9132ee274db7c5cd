"""The CapabilityStatement (`metadata`): open to anyone, no token, nothing audited."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from fhir import capabilities
from fhir import interactions as http
from fhir.api.gate import base_url
from fhir.api.outcomes import error_response, fhir_response, method_not_allowed
from fhir.interactions import FhirError


@csrf_exempt
@login_not_required
def metadata(request) -> HttpResponse:
    try:
        http.refuse_long_query(request)
        if request.method != "GET":
            response = error_response(method_not_allowed(request.method), "")
            response["Allow"] = "GET"
            return response
        content_type = http.response_content_type(request)
    except FhirError as error:
        return error_response(error, "")
    return fhir_response(capabilities.capability_statement(base_url=base_url(request)), content_type=content_type)
