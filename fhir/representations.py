"""Our objects as FHIR R4 resources, shaped like the national CP-IS API's examples."""

from django.utils import timezone

from plans.models import SNOMED

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
SNOMED_SYSTEM = "http://snomed.info/sct"
ROLE_CLASS_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"
ERROR_CODE_SYSTEM = "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode"
INCLUDE_PRACTITIONER_ROLE = f"AuditEvent:entity-type={ROLE_CLASS_SYSTEM}|ASSIGNED"


def _instant(value) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds")


def care_team(plan, *, base_url: str) -> dict:
    code, display = SNOMED[plan.plan_type]
    la = plan.organisation
    telecom = []
    if la.office_hours_phone:
        telecom.append({"system": "phone", "value": la.office_hours_phone, "use": "work"})
    if la.emergency_duty_phone:
        telecom.append({"system": "phone", "value": la.emergency_duty_phone, "use": "mobile"})
    period = {"start": plan.start_date.isoformat()}
    if plan.end_date:
        period["end"] = plan.end_date.isoformat()
    return {
        "resourceType": "CareTeam",
        "id": f"plan-{plan.pk}",
        "status": "inactive" if plan.is_ended() else "active",
        "category": [{"coding": [{"system": SNOMED_SYSTEM, "code": code, "display": display}]}],
        "name": la.name,
        "subject": {
            "identifier": {"system": NHS_NUMBER_SYSTEM, "value": plan.nhs_number},
            "display": f"{plan.given_names} {plan.family_name}",
        },
        "period": period,
        "managingOrganization": [{"identifier": {"system": ODS_SYSTEM, "value": la.ods_code}, "display": la.name}],
        "telecom": telecom,
    }


def practitioner_role(visit, *, role_display: str) -> dict:
    setting = visit.care_setting
    return {
        "resourceType": "PractitionerRole",
        "id": f"visit-{visit.pk}",
        "practitioner": {"display": visit.checked_by_name},
        "organization": {"identifier": {"system": ODS_SYSTEM, "value": setting.ods_code}, "display": setting.name},
        "code": [{"coding": [{"code": visit.checked_by_role, "display": role_display}]}],
    }


def audit_event(visit, *, base_url: str) -> dict:
    setting = visit.care_setting
    return {
        "resourceType": "AuditEvent",
        "id": f"visit-{visit.pk}",
        "type": {
            "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
            "code": "rest",
            "display": "RESTful Operation",
        },
        "action": "R",
        "recorded": _instant(visit.arrived_at),
        "agent": [
            {
                "type": {"coding": [{"system": ROLE_CLASS_SYSTEM, "code": "PAT", "display": "patient"}]},
                "who": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": visit.nhs_number}},
                "requestor": False,
            },
            {
                "type": {"coding": [{"system": ROLE_CLASS_SYSTEM, "code": "ASSIGNED", "display": "assigned entity"}]},
                "who": {"reference": f"{base_url}/PractitionerRole/visit-{visit.pk}"},
                "requestor": True,
            },
        ],
        "source": {
            "observer": {"identifier": {"system": ODS_SYSTEM, "value": setting.ods_code}, "display": setting.name}
        },
    }


def searchset(entries: list[tuple[dict, str]], *, base_url: str, total: int) -> dict:
    """A searchset Bundle; `entries` are (resource, search mode) pairs, mode match or include."""
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": _instant(timezone.now()),
        "total": total,
        "entry": [
            {
                "fullUrl": f"{base_url}/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": mode},
            }
            for resource, mode in entries
        ],
    }


def operation_outcome(*, code: str, issue_type: str, display: str, diagnostics: str) -> dict:
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": issue_type,
                "details": {"coding": [{"system": ERROR_CODE_SYSTEM, "code": code, "display": display}]},
                "diagnostics": diagnostics,
            }
        ],
    }


def capability_statement(*, base_url: str) -> dict:
    search_param = {
        "name": "patient:identifier",
        "type": "token",
        "documentation": f"The child's (or, for an unborn child's plan, the mother's) NHS number: {NHS_NUMBER_SYSTEM}|<10 digits>",
    }
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-25",
        "publisher": "CP-IS (open-source)",
        "kind": "instance",
        "software": {"name": "CP-IS"},
        "implementation": {"description": "Child Protection – Information Sharing FHIR R4 API", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "description": "Authorization: Bearer <personal API token>. Headers: TraceID (echoed), "
                    "IsUnscheduledAccessEvent: true|false (absent means true)."
                },
                "resource": [
                    {"type": "CareTeam", "interaction": [{"code": "search-type"}], "searchParam": [search_param]},
                    {
                        "type": "AuditEvent",
                        "interaction": [{"code": "search-type"}],
                        "searchInclude": [INCLUDE_PRACTITIONER_ROLE],
                        "searchParam": [search_param],
                    },
                ],
            }
        ],
    }
