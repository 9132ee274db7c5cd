"""Reading the API's answers in tests: every one parsed by an independent FHIR library."""

import json

from fhir.resources.R4B.operationoutcome import OperationOutcome

NHS = "https://fhir.nhs.uk/Id/nhs-number"


def parsed(response, model):
    assert response["Content-Type"] == "application/fhir+json; fhirVersion=4.0"
    return model.model_validate(json.loads(response.content))


def outcome(response, status, code):
    assert response.status_code == status, response.content
    resource = parsed(response, OperationOutcome)
    issue = resource.issue[0]
    assert issue.severity == "error"
    assert issue.details.coding[0].code == code
    return issue
