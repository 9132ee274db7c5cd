"""Importing organisations from CSV, with a per-row report modelled on the plan upload's codes.

A file is checked first (nothing written) and the national admin confirms; applying checks it
again in one transaction, so what is applied is what the rules say at that moment. Rejected
rows are reported with their line number and reason and never stop the accepted ones.
"""

import copy
import csv
import io
from dataclasses import dataclass, field

from django.db import transaction
from django.http import HttpRequest

from accounts.models import Organisation, OrganisationKind, Region, SettingType, User
from administration.forms import OrganisationForm
from administration.services import ORGANISATION_FIELDS, organisation_create, organisation_update
from audit.models import AuditAction
from audit.services import audit_record

MAX_BYTES = 1024 * 1024
MAX_ROWS = 5000
REQUIRED_COLUMNS = ("ods_code", "name", "kind")

# File-level codes, as the plan upload's acknowledgement uses them.
FILE_UNREADABLE = "CPF01"
ALL_ACCEPTED = "CPF02"
SOME_REJECTED = "CPF03"
NONE_ACCEPTED = "CPF04"
FILE_CODE_TEXT = {
    FILE_UNREADABLE: "The file could not be read",
    ALL_ACCEPTED: "All rows accepted",
    SOME_REJECTED: "Some rows rejected",
    NONE_ACCEPTED: "No rows accepted",
}


@dataclass
class RowResult:
    line: int
    ods_code: str
    outcome: str  # "create", "update", "unchanged" or "reject"
    reason: str = ""
    # The row as read from the file, kept for rejected rows so they can be downloaded and fixed.
    cells: dict = field(default_factory=dict)


@dataclass
class ImportReport:
    file_code: str = ""
    file_error: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[RowResult] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)

    @property
    def accepted(self) -> int:
        return len(self.rows) - self.count("reject")

    def rejected_rows(self) -> list[list[str]]:
        """Each rejected row's cells in the file's column order, with the reason added last."""
        return [
            [r.cells.get(c, "") for c in self.header] + [f"line {r.line}: {r.reason}"]
            for r in self.rows
            if r.outcome == "reject"
        ]

    @property
    def file_code_text(self) -> str:
        return FILE_CODE_TEXT[self.file_code]

    def finish(self) -> "ImportReport":
        if not self.file_code:
            rejected = self.count("reject")
            self.file_code = ALL_ACCEPTED if not rejected else SOME_REJECTED if self.accepted else NONE_ACCEPTED
        return self


def _choice(value: str, choices) -> str:
    """Accepts a choice by its value or its label, in any case ("LA" means local authority)."""
    wanted = value.strip().lower()
    spaced = wanted.replace(" ", "_").replace("-", "_")
    aliases = {"la": OrganisationKind.LOCAL_AUTHORITY, "setting": OrganisationKind.CARE_SETTING}
    if choices is OrganisationKind and wanted in aliases:
        return aliases[wanted]
    for choice in choices:
        if wanted == choice.label.lower() or spaced == choice.value.lower():
            return choice.value
    return value.strip()


def decode(raw: bytes) -> str:
    """The file as text, or ValueError with a reason a person can act on."""
    if len(raw) > MAX_BYTES:
        raise ValueError(f"The file is larger than {MAX_BYTES // 1024} KB.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError("The file is not UTF-8 text. Save it as 'CSV UTF-8' and upload it again.") from error


def _rows(text: str, report: ImportReport) -> list[tuple[int, dict]] | None:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error:
        header = []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        report.file_code = FILE_UNREADABLE
        report.file_error = "The file has no header row with the columns " + ", ".join(missing) + "."
        return None
    reader.fieldnames = header
    report.header = header
    rows: list[tuple[int, dict]] = []
    try:
        for row in reader:
            if len(rows) >= MAX_ROWS:
                report.file_code = FILE_UNREADABLE
                report.file_error = f"The file has more than {MAX_ROWS} rows."
                return None
            if not any((v or "").strip() for k, v in row.items() if k):
                continue
            rows.append((reader.line_num, row))
    except csv.Error as error:
        report.file_code = FILE_UNREADABLE
        report.file_error = f"The file is not valid CSV (line {reader.line_num}: {error})."
        return None
    return rows


def _row_form(row: dict) -> tuple[OrganisationForm, Organisation | None]:
    data = {f: (row.get(f) or "").strip() for f in ORGANISATION_FIELDS}
    data["ods_code"] = data["ods_code"].upper()
    data["kind"] = _choice(data["kind"], OrganisationKind)
    if data["setting_type"]:
        data["setting_type"] = _choice(data["setting_type"], SettingType)
    if data["region"]:
        data["region"] = _choice(data["region"], Region)
    existing = Organisation.objects.filter(ods_code=data["ods_code"]).first()
    if existing is not None:
        # Columns left out of the file keep their current values.
        for f in ORGANISATION_FIELDS:
            if f not in row:
                data[f] = getattr(existing, f)
    # The form writes cleaned values onto its instance; give it a copy so `existing` stays as stored.
    return OrganisationForm(data, instance=copy.copy(existing)), existing


def _first_error(form: OrganisationForm) -> str:
    for name, errors in form.errors.items():
        label = "" if name == "__all__" else f"{name}: "
        return f"{label}{errors[0]}"
    return "invalid row"


def organisations_import(
    *, text: str, apply: bool, by: User | None = None, request: HttpRequest | None = None
) -> ImportReport:
    """Checks (apply=False) or applies (apply=True, one transaction) an organisations file."""
    # Only the check runs without an administrator: what is applied is audited as theirs.
    if apply and by is None:
        raise ValueError("An import is applied by an administrator: pass `by`.")
    report = ImportReport()
    rows = _rows(text, report)
    if rows is None:
        return report
    with transaction.atomic():
        seen: set[str] = set()
        for line, row in rows:
            form, existing = _row_form(row)
            ods = form.data["ods_code"]
            if ods and ods in seen:
                report.rows.append(RowResult(line, ods, "reject", "duplicate ODS code in the file", row))
                continue
            seen.add(ods)
            if not form.is_valid():
                report.rows.append(RowResult(line, ods, "reject", _first_error(form), row))
                continue
            fields = {f: form.cleaned_data[f] for f in ORGANISATION_FIELDS}
            if existing is None:
                report.rows.append(RowResult(line, ods, "create"))
                if apply and by is not None:
                    organisation_create(fields=fields, by=by, request=request)
            elif any(getattr(existing, f) != v for f, v in fields.items()):
                report.rows.append(RowResult(line, ods, "update"))
                if apply and by is not None:
                    organisation_update(organisation=existing, fields=fields, by=by, request=request)
            else:
                report.rows.append(RowResult(line, ods, "unchanged"))
        report.finish()
        if apply:
            audit_record(
                action=AuditAction.ORGANISATIONS_IMPORTED,
                request=request,
                user=by,
                detail={
                    "file_code": report.file_code,
                    "created": report.count("create"),
                    "updated": report.count("update"),
                    "rejected": report.count("reject"),
                },
            )
    return report
