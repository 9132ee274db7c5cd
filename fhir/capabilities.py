"""The CapabilityStatement: every resource, interaction, search parameter, include and profile
the API serves, and nothing it does not (tests/fhir/test_capabilities.py walks it against the
URLs). Shaped like NHS England's CP-IS producer statement (CapStatement-CPIS-FHIR-API-Producer),
which it says it instantiates."""

from django.conf import settings

from fhir import interactions as http
from fhir import representations as resources

NATIONAL_PRODUCER = "https://fhir.nhs.uk/CapabilityStatement/CPIS-FHIR-API-Producer"
CLINICAL_PATIENT = "http://hl7.org/fhir/SearchParameter/clinical-patient"
STATEMENT_DATE = "2026-12-01"


def _base_profile(resource_type: str) -> str:
    return f"http://hl7.org/fhir/StructureDefinition/{resource_type}"


def _patient_identifier(documentation: str) -> dict:
    return {
        "name": "patient",
        "definition": CLINICAL_PATIENT,
        "type": "reference",
        "documentation": f"Used as patient:identifier={resources.NHS_NUMBER_SYSTEM}|<NHS number>. {documentation}",
    }


_PAGING = (
    f"_count (at most {http.MAX_COUNT}, the default) pages the result; follow the Bundle's next and "
    "previous links. Prefer: handling=strict refuses unknown parameters."
)


def capability_statement(*, base_url: str) -> dict:
    read = {"code": "read"}
    search = {"code": "search-type"}
    return {
        "resourceType": "CapabilityStatement",
        "id": "cpis-fhir-api",
        "url": f"{base_url}/metadata",
        "version": "1.0.0",
        "name": "CPISFHIRAPI",
        "title": "CP-IS FHIR R4 API",
        "status": "active",
        "experimental": False,
        "date": STATEMENT_DATE,
        "publisher": "CP-IS (open source)",
        "contact": [
            {
                "name": "CP-IS service desk",
                "telecom": [{"system": "email", "value": settings.FHIR_CONTACT_EMAIL, "use": "work", "rank": 1}],
            }
        ],
        "description": "Child Protection – Information Sharing: the national CP-IS FHIR API's CareTeam "
        "and AuditEvent searches, read by id, and NHS England's Patient Flag API for scheduled care.",
        "purpose": "Lets a care setting's system written for the national CP-IS FHIR API use this service unchanged.",
        "instantiates": [NATIONAL_PRODUCER],
        "kind": "instance",
        "software": {"name": "CP-IS", "version": "1.0.0"},
        "implementation": {"description": "CP-IS FHIR R4 API", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": [http.FHIR_JSON, "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Every search is GET only and answers a searchset Bundle with total and a self "
                "link. GET PatientFlag?patient=<NHS number>&code=child-protection-information-system-flag is the "
                "Patient Flag API's name for the Flag search below.",
                "security": {
                    "cors": False,
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "OAuth",
                                }
                            ],
                            "text": "OAuth 2.0 bearer tokens (RFC 6750)",
                        }
                    ],
                    "description": "Authorization: Bearer <personal API token>, issued at /fhir/tokens/ to a trained "
                    "user enrolled in two-factor authentication; it acts with that user's roles at the token's "
                    "organisation. Headers: TraceID (any printable token up to 200 characters; echoed), "
                    "IsUnscheduledAccessEvent (or IsUnscheduledEvent): true|false (absent means true; false, "
                    "viewing without notifying, needs the safeguarding lead role).",
                },
                "resource": [
                    {
                        "type": "CareTeam",
                        "profile": _base_profile("CareTeam"),
                        "supportedProfile": [resources.PROFILE_CARE_TEAM],
                        "interaction": [read, search],
                        "searchParam": [
                            _patient_identifier(
                                "The check: with IsUnscheduledAccessEvent true a visit is recorded and the "
                                "local authority notified, as in the browser. " + _PAGING
                            )
                        ],
                    },
                    {
                        "type": "AuditEvent",
                        "profile": _base_profile("AuditEvent"),
                        "interaction": [read, search],
                        "searchInclude": sorted(http.PRACTITIONER_ROLE_INCLUDES),
                        "searchParam": [
                            _patient_identifier(
                                "The child's last 25 unscheduled-care visits, newest first, each followed by "
                                "its PractitionerRole (search mode include) with or without _include. As an "
                                "unscheduled access, answered only after your own check of the child within the "
                                "attendance episode. " + _PAGING
                            )
                        ],
                    },
                    {
                        "type": "PractitionerRole",
                        "profile": _base_profile("PractitionerRole"),
                        "interaction": [read],
                    },
                    {
                        "type": "Flag",
                        "profile": _base_profile("Flag"),
                        "supportedProfile": [resources.PROFILE_FLAG],
                        "interaction": [read, search],
                        "searchParam": [
                            {
                                "name": "patient",
                                "definition": "http://hl7.org/fhir/SearchParameter/clinical-patient",
                                "type": "reference",
                                "documentation": "The NHS number, bare or as "
                                f"{resources.NHS_NUMBER_SYSTEM}|<NHS number>. A view without notifying: "
                                "safeguarding leads only.",
                            },
                            {
                                "name": "code",
                                "definition": "http://hl7.org/fhir/SearchParameter/clinical-code",
                                "type": "token",
                                "documentation": f"{resources.CPIS_FLAG_CODE} (the only flag held). " + _PAGING,
                            },
                        ],
                    },
                    {
                        "type": "CarePlan",
                        "profile": _base_profile("CarePlan"),
                        "supportedProfile": [resources.PROFILE_CARE_PLAN],
                        "interaction": [read],
                    },
                ],
            }
        ],
    }
