"""What CP-IS keeps of a PDS answer, and how a FHIR Patient (or an error) becomes one.

Deliberately small: the NHS number asked for, what PDS said about it, and only for an
unrestricted record the names and date of birth needed to match an upload row. Addresses,
telephone numbers and GP details are never read, so they can never be stored or shown.
"""

from dataclasses import dataclass, field
from datetime import date

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
# meta.security codes (http://terminology.hl7.org/CodeSystem/v3-Confidentiality): PDS marks an
# S-flagged record R (restricted) or V (very restricted); U is unrestricted.
_SENSITIVE_SECURITY_CODES = {"R", "V", "REDACTED"}


class LookupStatus:
    FOUND = "found"
    NOT_FOUND = "not_found"  # 404 RESOURCE_NOT_FOUND, or 400 INVALID_RESOURCE_ID
    INVALIDATED = "invalidated"  # 404 INVALIDATED_RESOURCE: the number is no longer in use
    SUPERSEDED = "superseded"  # 200, but the Patient returned has another NHS number


@dataclass(frozen=True)
class PdsRecord:
    nhs_number: str
    status: str
    replacement: str = ""
    sensitive: bool = False
    deceased: bool = False
    # (family, [given, …]) per name PDS returned; empty for a sensitive record.
    names: tuple[tuple[str, tuple[str, ...]], ...] = field(default_factory=tuple)
    date_of_birth: date | None = None

    def as_json(self) -> dict:
        return {
            "status": self.status,
            "replacement": self.replacement,
            "sensitive": self.sensitive,
            "deceased": self.deceased,
            "names": [[family, list(given)] for family, given in self.names],
            "date_of_birth": self.date_of_birth.isoformat() if self.date_of_birth else None,
        }

    @classmethod
    def from_json(cls, nhs_number: str, data: dict) -> "PdsRecord":
        born = data.get("date_of_birth")
        return cls(
            nhs_number=nhs_number,
            status=data["status"],
            replacement=data.get("replacement", ""),
            sensitive=bool(data.get("sensitive")),
            deceased=bool(data.get("deceased")),
            names=tuple((family, tuple(given)) for family, given in data.get("names", [])),
            date_of_birth=date.fromisoformat(born) if born else None,
        )


def _birth_date(value: str | None) -> date | None:
    # PDS may hold a partial date (YYYY or YYYY-MM); a partial date can never match a row's.
    if not value or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def record_from_patient(nhs_number: str, patient: dict) -> PdsRecord:
    """A FHIR R4 Patient from `GET /Patient/{nhs_number}` as a PdsRecord."""
    returned = str(patient.get("id", ""))
    for identifier in patient.get("identifier") or []:
        if identifier.get("system") == NHS_NUMBER_SYSTEM and identifier.get("value"):
            returned = str(identifier["value"])
    if returned and returned != nhs_number:
        # PDS answers a superseded number with the record under the number that replaced it.
        return PdsRecord(nhs_number=nhs_number, status=LookupStatus.SUPERSEDED, replacement=returned)
    security = {s.get("code") for s in (patient.get("meta") or {}).get("security") or []}
    sensitive = bool(security & _SENSITIVE_SECURITY_CODES)
    deceased = bool(patient.get("deceasedDateTime") or patient.get("deceasedBoolean"))
    if sensitive:
        # Nothing of a sensitive record's demographics is kept (the national CP-IS cannot
        # update one either, see docs/plans.md).
        return PdsRecord(nhs_number=nhs_number, status=LookupStatus.FOUND, sensitive=True, deceased=deceased)
    names = tuple(
        (str(name.get("family") or ""), tuple(str(g) for g in name.get("given") or []))
        for name in patient.get("name") or []
    )
    return PdsRecord(
        nhs_number=nhs_number,
        status=LookupStatus.FOUND,
        deceased=deceased,
        names=names,
        date_of_birth=_birth_date(patient.get("birthDate")),
    )


def error_code(outcome: dict) -> str:
    """The Spine error code of a PDS OperationOutcome (RESOURCE_NOT_FOUND, INVALIDATED_RESOURCE, …)."""
    for issue in outcome.get("issue") or []:
        for coding in (issue.get("details") or {}).get("coding") or []:
            if coding.get("code"):
                return str(coding["code"])
    return ""
