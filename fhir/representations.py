"""Our objects as FHIR R4 resources, shaped like NHS England's CP-IS examples.

The examples are in tests/fhir/fixtures/ and the tests compare these shapes with them; every
way we differ from them is listed, with its reason, in docs/fhir.md ("Departures").
"""

import uuid
from urllib.parse import urlencode

from django.utils import timezone

from accounts.models import Role
from fhir.ids import Kind, fhir_id
from plans.models import SNOMED

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
SDS_ROLE_PROFILE_SYSTEM = "https://fhir.nhs.uk/Id/sds-role-profile-id"
SNOMED_SYSTEM = "http://snomed.info/sct"
ROLE_CLASS_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"
LIFECYCLE_SYSTEM = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle"
DATA_OPERATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
FLAG_DETAIL = "http://hl7.org/fhir/StructureDefinition/flag-detail"
ERROR_CODE_SYSTEM = "https://fhir.nhs.uk/CodeSystem/England-SpineErrorOrWarningCode"
FLAG_CATEGORY_SYSTEM = "https://fhir.nhs.uk/England/CodeSystem/England-FlagCategoryPatient"
CPIS_FLAG_CODE = "child-protection-information-system-flag"
PROFILE_FLAG = "https://fhir.nhs.uk/England/StructureDefinition/England-Flag-PatientFlag"
PROFILE_PROVENANCE = "https://fhir.nhs.uk/England/StructureDefinition/England-Provenance-Flag"
PROFILE_CARE_PLAN = "https://fhir.nhs.uk/England/StructureDefinition/England-CarePlan-Flag"
PROFILE_CARE_TEAM = "https://fhir.nhs.uk/England/StructureDefinition/England-CareTeam-Flag"

# The national API's own include, kept for EPRs written against it.
INCLUDE_PRACTITIONER_ROLE = f"AuditEvent:entity-type={ROLE_CLASS_SYSTEM}|ASSIGNED"

# SNOMED CT job role (occupation) per role: our roles are not SDS job roles, so the nearest
# occupation that is true of everyone holding them; the role itself is in `text`.
_JOB_ROLE = {
    Role.CLINICIAN: ("223366009", "Healthcare professional"),
    Role.SAFEGUARDING_LEAD: ("223366009", "Healthcare professional"),
}
_ROLE_LABELS = dict(Role.choices)


def _instant(value) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds")


def _subject(plan) -> dict:
    return {
        "identifier": {"system": NHS_NUMBER_SYSTEM, "value": plan.nhs_number},
        "display": f"{plan.given_names} {plan.family_name}",
    }


def _period(plan) -> dict:
    period = {"start": plan.start_date.isoformat()}
    if plan.end_date:
        period["end"] = plan.end_date.isoformat()
    return period


def _telecom(la) -> list[dict]:
    telecom = []
    if la.office_hours_phone:
        telecom.append({"system": "phone", "value": la.office_hours_phone, "use": "work"})
    if la.emergency_duty_phone:
        telecom.append({"system": "phone", "value": la.emergency_duty_phone, "use": "mobile"})
    return telecom


def _without_empty(resource: dict) -> dict:
    # FHIR JSON never carries an empty array or object.
    return {key: value for key, value in resource.items() if value not in ([], {}, None, "")}


def care_team(plan) -> dict:
    """A plan as the CP-IS CareTeam search answers it (CPIS-GetCareTeamResult-Example)."""
    code, display = SNOMED[plan.plan_type]
    return _without_empty(
        {
            "resourceType": "CareTeam",
            "id": fhir_id(Kind.CARE_TEAM, plan.pk),
            "status": "inactive" if plan.is_ended() else "active",
            "category": [{"coding": [{"system": SNOMED_SYSTEM, "code": code, "display": display}]}],
            "name": plan.organisation.name,
            "subject": _subject(plan),
            "period": _period(plan),
            "telecom": _telecom(plan.organisation),
        }
    )


def practitioner_role(visit) -> dict:
    """Who checked, in which role, where (the include of CPIS-GetAuditEventResult-Example)."""
    setting = visit.care_setting
    code, display = _JOB_ROLE.get(visit.checked_by_role, _JOB_ROLE[Role.CLINICIAN])
    return {
        "resourceType": "PractitionerRole",
        "id": fhir_id(Kind.PRACTITIONER_ROLE, visit.pk),
        # We hold no SDS role profile ids (our users are not issued through SDS): the element is
        # there, as in the national example, with the reason its value is absent.
        "identifier": [
            {
                "system": SDS_ROLE_PROFILE_SYSTEM,
                "_value": {"extension": [{"url": DATA_ABSENT_REASON, "valueCode": "unsupported"}]},
            }
        ],
        "practitioner": {"display": visit.checked_by_name},
        # As the national service writes it: the organisation's name, then its ODS code.
        "organization": {"display": f"{setting.name} ({setting.ods_code})"},
        "code": [
            {
                "coding": [{"system": SNOMED_SYSTEM, "code": code, "display": display}],
                "text": _ROLE_LABELS.get(visit.checked_by_role, visit.checked_by_role),
            }
        ],
    }


def audit_event(visit) -> dict:
    """A visit as the CP-IS AuditEvent search answers it (CPIS-GetAuditEventResult-Example)."""
    practitioner = {"reference": f"PractitionerRole/{fhir_id(Kind.PRACTITIONER_ROLE, visit.pk)}"}
    return {
        "resourceType": "AuditEvent",
        "id": fhir_id(Kind.AUDIT_EVENT, visit.pk),
        "type": {"system": LIFECYCLE_SYSTEM, "code": "access", "display": "Access/View Record Lifecycle Event"},
        "recorded": _instant(visit.arrived_at),
        "agent": [
            {
                "type": {"coding": [{"system": ROLE_CLASS_SYSTEM, "code": "PAT", "display": "patient"}]},
                "who": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": visit.nhs_number}},
                "requestor": False,
            },
            {
                "type": {"coding": [{"system": ROLE_CLASS_SYSTEM, "code": "ASSIGNED", "display": "assigned entity"}]},
                "who": practitioner,
                "requestor": True,
            },
        ],
        "source": {"observer": practitioner},
    }


def flag(plan) -> dict:
    """A plan as the Patient Flag API's CP-IS Flag (CPIS-CPP-Bundle-Example)."""
    la = plan.organisation
    return {
        "resourceType": "Flag",
        "id": fhir_id(Kind.FLAG, plan.pk),
        "meta": {"profile": [PROFILE_FLAG]},
        "contained": [
            {
                "resourceType": "Provenance",
                "id": "provenance",
                "meta": {"profile": [PROFILE_PROVENANCE]},
                "target": [{"reference": "#"}],
                "recorded": _instant(plan.created_at),
                "activity": {"coding": [{"system": DATA_OPERATION_SYSTEM, "code": "CREATE", "display": "create"}]},
                "agent": [
                    {
                        "who": {"display": plan.created_by_name or la.name},
                        "onBehalfOf": {"identifier": {"system": ODS_SYSTEM, "value": la.ods_code}, "display": la.name},
                    }
                ],
            }
        ],
        "extension": [
            {
                "url": FLAG_DETAIL,
                "valueReference": {
                    "reference": f"CarePlan/{fhir_id(Kind.CARE_PLAN, plan.pk)}",
                    "display": f"{plan.get_plan_type_display()} for {plan.given_names} {plan.family_name}",
                },
            }
        ],
        "status": "inactive" if plan.is_ended() else "active",
        "code": {
            "coding": [
                {
                    "system": FLAG_CATEGORY_SYSTEM,
                    "code": CPIS_FLAG_CODE,
                    "display": "Child Protection Information System Flag",
                }
            ]
        },
        "subject": _subject(plan),
        "period": _period(plan),
    }


def care_plan(plan) -> dict:
    """A plan as the Patient Flag API's CarePlan (CPIS-CarePlan-Example)."""
    code, display = SNOMED[plan.plan_type]
    return {
        "resourceType": "CarePlan",
        "id": fhir_id(Kind.CARE_PLAN, plan.pk),
        "meta": {"profile": [PROFILE_CARE_PLAN]},
        "status": "completed" if plan.is_ended() else "active",
        "intent": "plan",
        "category": [{"coding": [{"system": SNOMED_SYSTEM, "code": code, "display": display}]}],
        "subject": _subject(plan),
        "period": _period(plan),
        "careTeam": [
            {"reference": f"CareTeam/{fhir_id(Kind.FLAG_CARE_TEAM, plan.pk)}", "display": plan.organisation.name}
        ],
    }


def flag_care_team(plan) -> dict:
    """The plan's local authority team as the Patient Flag API's CareTeam (CPIS-CareTeam-Example)."""
    return _without_empty(
        {
            "resourceType": "CareTeam",
            "id": fhir_id(Kind.FLAG_CARE_TEAM, plan.pk),
            "meta": {"profile": [PROFILE_CARE_TEAM]},
            "status": "inactive" if plan.is_ended() else "active",
            "name": plan.organisation.name,
            "telecom": _telecom(plan.organisation),
        }
    )


def link_url(base_url: str, path: str, params: list[tuple[str, str]]) -> str:
    # Written as the national examples write them: `:`, `/` and `|` stay readable.
    query = urlencode(params, safe=":/|")
    return f"{base_url}/{path}" + (f"?{query}" if query else "")


def searchset(entries: list[tuple[dict, str]], *, base_url: str, total: int, links: list[tuple[str, str]]) -> dict:
    """A searchset Bundle: `entries` are (resource, search mode) pairs, `links` (relation, url)."""
    bundle = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "searchset",
        "total": total,
        "link": [{"relation": relation, "url": url} for relation, url in links],
    }
    if entries:
        bundle["entry"] = [
            {
                "fullUrl": f"{base_url}/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": mode},
            }
            for resource, mode in entries
        ]
    return bundle


def operation_outcome(*, code: str, issue_type: str, display: str, diagnostics: str) -> dict:
    return {
        "resourceType": "OperationOutcome",
        "id": str(uuid.uuid4()),
        "issue": [
            {
                "severity": "error",
                "code": issue_type,
                "details": {"coding": [{"system": ERROR_CODE_SYSTEM, "code": code, "display": display}]},
                "diagnostics": diagnostics,
            }
        ],
    }
