"""Reading a plan file (SPEC 2 "Plan upload"): bytes → validated rows or rejected rows.

No database access here; the checks that need the plans already held (demographics, open
plans, known keys) are set-based SQL in plans/uploads/staging.py. A file that cannot be read at all
raises FileUnreadable (acknowledged as CPF01).
"""

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError

from core.nhs_numbers import nhs_number_is_valid, nhs_number_normalise
from plans.models import PlanType, RejectReason
from plans.rules import row_rules_broken

REQUIRED_COLUMNS = ("nhs_number", "family_name", "given_names", "date_of_birth", "plan_type", "start_date")
OPTIONAL_COLUMNS = ("end_date", "expected_due_date", "la_reference", "withdrawn")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
# The columns the rejected-rows report puts before the file's own. They are ignored on upload,
# so a corrected report goes back as it is, without the LA deleting columns by hand.
REPORT_COLUMNS = ("line_number", "code", "reason", "message")

# Nobody alive was born before this; anything earlier is a typing slip (1009 for 2009).
_EARLIEST_DATE = date(1900, 1, 1)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UK_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def name_is_acceptable(value: str) -> bool:
    """Names are display data: any printable text is kept as given ("Stone, jr", "Smith (Jones)",
    "Kowalska/Nowak"), because refusing a real name stops that child's plan being shared.
    Only control and invisible format characters are refused; markup is escaped on output and
    formulas are neutralised in every CSV the service writes.
    """
    return value.isprintable()


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_LENGTHS = {"family_name": 100, "given_names": 200, "la_reference": 50}
_WITHDRAWN_VALUES = {"": False, "N": False, "Y": True}
_PLAN_TYPES = {t.value for t in PlanType}

_LABELS = {
    "nhs_number": "NHS number",
    "family_name": "family name",
    "given_names": "given names",
    "date_of_birth": "date of birth",
    "plan_type": "plan type",
    "start_date": "start date",
    "end_date": "end date",
    "expected_due_date": "expected due date",
    "la_reference": "LA reference",
    "withdrawn": "withdrawn",
}


class FileUnreadable(Exception):
    """The whole file is refused (CPF01); `message` says what to fix, in the LA's words."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(slots=True)
class Rejection:
    line: int
    reason: str
    message: str
    cells: list[str]


# line, nhs_number, family_name, given_names, date_of_birth, plan_type, start_date, end_date,
# expected_due_date, la_reference, withdrawn: a tuple, because 200,000 of them go by.
ValidRow = tuple


class _RowError(Exception):
    def __init__(self, reason: str, message: str):
        self.reason = reason
        self.message = message


def _text_lines(content: bytes) -> io.TextIOWrapper:
    """The file as text, decoded as it is read (one decoded copy of 25 MB would be 100 MB)."""
    if b"\x00" in content:
        raise FileUnreadable("The file contains binary data, so it is not a CSV file. Save it as CSV and try again.")
    try:
        # Checked whole first, so a bad byte is reported before any row is used; the text is
        # dropped at once. utf-8-sig accepts the byte-order mark Excel writes for "CSV UTF-8".
        content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        raise FileUnreadable(
            f"The file is not UTF-8 text (first problem on line {line}). "
            "In Excel choose 'CSV UTF-8 (Comma delimited)' when saving, and try again."
        ) from None
    return io.TextIOWrapper(io.BytesIO(content), encoding="utf-8-sig", newline="")


def _header(cells: list[str]) -> list[str]:
    names = [c.strip().lstrip("\ufeff").lower() for c in cells]
    seen = set()
    for position, name in enumerate(names, start=1):
        if not name:
            raise FileUnreadable(f"Column {position} of the header row has no name.")
        if name in seen:
            raise FileUnreadable(f"The column '{name}' appears more than once in the header row.")
        if name not in COLUMNS and name not in REPORT_COLUMNS:
            raise FileUnreadable(
                f"The header row has a column this service does not know: '{name[:40]}'. "
                f"The columns are: {', '.join(COLUMNS)}."
            )
        seen.add(name)
    missing = [c for c in REQUIRED_COLUMNS if c not in seen]
    if missing:
        raise FileUnreadable(f"The header row is missing the required column(s): {', '.join(missing)}.")
    return names


class PlanFileReader:
    """Reads one file: `rows()` yields a ValidRow or a Rejection per data row, in file order.

    1. decode (UTF-8, BOM accepted) and refuse binary data;
    2. the first non-blank line is the header (names case-insensitive, any order, all known);
    3. each later non-blank line is checked on its own (fields, dates, ages), then against the
       rows before it in the file (duplicate key, different date of birth, two open plans).
    Blank lines are skipped; line numbers count physical lines, so a quoted newline inside a
    cell moves the next row's number on, as a text editor shows it.
    """

    def __init__(self, *, content: bytes, today: date, max_rows: int, progress: Callable[[int], None] | None = None):
        self.content = content
        self.today = today
        self.max_rows = max_rows
        self.progress = progress
        self.row_count = 0
        self.header: list[str] = []
        self._dates: dict[str, date] = {}
        self._keys: dict[tuple, int] = {}
        self._birth_dates: dict[str, tuple[date, int]] = {}
        self._open: dict[tuple, int] = {}

    def rows(self) -> Iterator[ValidRow | Rejection]:
        reader = csv.reader(_text_lines(self.content), strict=True)
        header = None
        last_line = 0
        try:
            for cells in reader:
                line = last_line + 1
                last_line = reader.line_num
                if not cells or not any(c.strip() for c in cells):
                    continue
                if header is None:
                    header = self.header = _header(cells)
                    index = {name: i for i, name in enumerate(header) if name in COLUMNS}
                    continue
                self.row_count += 1
                if self.row_count > self.max_rows:
                    raise FileUnreadable(f"The file has more than {self.max_rows:,} rows. Split it and try again.")
                if self.progress and self.row_count % 5000 == 0:
                    self.progress(self.row_count)
                yield self._row(line, cells, header, index)
        except csv.Error as error:
            raise FileUnreadable(f"The file cannot be read as CSV at line {last_line + 1}: {error}.") from None
        if header is None:
            raise FileUnreadable("The file is empty: it needs a header row and at least one row of plans.")

    def _row(self, line: int, cells: list[str], header: list[str], index: dict[str, int]) -> ValidRow | Rejection:
        if len(cells) != len(header):
            return Rejection(
                line,
                RejectReason.WRONG_CELL_COUNT,
                f"The row has {len(cells)} cells but the header has {len(header)} columns.",
                cells,
            )
        try:
            row = self._check(line, {name: cells[i].strip() for name, i in index.items()})
        except _RowError as error:
            return Rejection(line, error.reason, error.message, cells)
        return row

    def _date(self, value: str, field: str, *, required: bool) -> date | None:
        if not value:
            if required:
                raise _RowError(RejectReason.MISSING_FIELD, f"The {_LABELS[field]} is missing.")
            return None
        parsed = self._dates.get(value)
        if parsed is None:
            parsed = self._parse_date(value, field)
            self._dates[value] = parsed
        return parsed

    def _parse_date(self, value: str, field: str) -> date:
        try:
            if _ISO_DATE.match(value):
                parsed = date.fromisoformat(value)
            elif match := _UK_DATE.match(value):
                day, month, year = (int(g) for g in match.groups())
                parsed = date(year, month, day)
            else:
                raise ValueError
        except ValueError:
            raise _RowError(
                RejectReason.INVALID_DATE,
                f"The {_LABELS[field]} '{value[:20]}' is not a real date in the form YYYY-MM-DD or DD/MM/YYYY.",
            ) from None
        if parsed < _EARLIEST_DATE:
            raise _RowError(RejectReason.INVALID_DATE, f"The {_LABELS[field]} is before 1900.")
        return parsed

    def _name(self, value: str, field: str) -> str:
        if not value:
            raise _RowError(RejectReason.MISSING_FIELD, f"The {_LABELS[field]} is missing.")
        if len(value) > _MAX_LENGTHS[field]:
            raise _RowError(
                RejectReason.TOO_LONG, f"The {_LABELS[field]} is longer than {_MAX_LENGTHS[field]} characters."
            )
        if not name_is_acceptable(value):
            raise _RowError(
                RejectReason.INVALID_NAME,
                f"The {_LABELS[field]} contains a control character (such as a tab or line break).",
            )
        return value

    def _check(self, line: int, values: dict[str, str]) -> ValidRow:
        raw_nhs = values["nhs_number"]
        if not raw_nhs:
            raise _RowError(RejectReason.MISSING_FIELD, "The NHS number is missing.")
        try:
            # Most files send bare digits: check them without the separator-stripping pass.
            if len(raw_nhs) == 10 and raw_nhs.isdigit() and nhs_number_is_valid(raw_nhs):
                nhs_number = raw_nhs
            else:
                nhs_number = nhs_number_normalise(raw_nhs)
        except ValidationError:
            raise _RowError(
                RejectReason.INVALID_NHS_NUMBER, "The NHS number is not a valid 10-digit NHS number (check digit)."
            ) from None
        # Fast paths first (a cached date, a plain name); the slow paths raise the row's error.
        dates = self._dates
        family_name = values["family_name"]
        if not (family_name and len(family_name) <= 100 and family_name.isprintable()):
            self._name(family_name, "family_name")
        given_names = values["given_names"]
        if not (given_names and len(given_names) <= 200 and given_names.isprintable()):
            self._name(given_names, "given_names")
        raw = values["date_of_birth"]
        date_of_birth = dates.get(raw) or self._date(raw, "date_of_birth", required=True)
        plan_type = values["plan_type"].upper()
        if not plan_type:
            raise _RowError(RejectReason.MISSING_FIELD, "The plan type is missing.")
        if plan_type not in _PLAN_TYPES:
            raise _RowError(RejectReason.INVALID_PLAN_TYPE, "The plan type must be CPP, LAC or UCPP.")
        raw = values["start_date"]
        start_date = dates.get(raw) or self._date(raw, "start_date", required=True)
        raw = values.get("end_date", "")
        end_date = (dates.get(raw) or self._date(raw, "end_date", required=False)) if raw else None
        raw = values.get("expected_due_date", "")
        due_date = (dates.get(raw) or self._date(raw, "expected_due_date", required=False)) if raw else None
        la_reference = values.get("la_reference", "")
        if len(la_reference) > _MAX_LENGTHS["la_reference"]:
            raise _RowError(RejectReason.TOO_LONG, "The LA reference is longer than 50 characters.")
        if _CONTROL.search(la_reference):
            raise _RowError(RejectReason.INVALID_REFERENCE, "The LA reference contains control characters.")
        withdrawn = _WITHDRAWN_VALUES.get(values.get("withdrawn", "").upper())
        if withdrawn is None:
            raise _RowError(RejectReason.INVALID_WITHDRAWN, "Withdrawn must be Y, N or empty.")
        # The plan rules, as the form applies them (plans/rules.py): the first broken one rejects.
        # An upload records what has happened, so a plan's end is sent once it has ended.
        broken = next(
            row_rules_broken(
                date_of_birth=date_of_birth,
                plan_type=plan_type,
                start_date=start_date,
                end_date=end_date,
                expected_due_date=due_date,
                withdrawn=withdrawn,
                today=self.today,
            ),
            None,
        )
        if broken is not None:
            raise _RowError(str(broken.rule.reason), broken.message)
        self._check_against_earlier_rows(line, nhs_number, plan_type, start_date, end_date, date_of_birth, withdrawn)
        return (
            line,
            nhs_number,
            family_name,
            given_names,
            date_of_birth,
            plan_type,
            start_date,
            end_date,
            due_date,
            la_reference,
            withdrawn,
        )

    def _check_against_earlier_rows(
        self, line, nhs_number, plan_type, start_date, end_date, date_of_birth, withdrawn
    ) -> None:
        key = (nhs_number, plan_type, start_date)
        if key in self._keys:
            raise _RowError(
                RejectReason.DUPLICATE_ROW,
                f"Line {self._keys[key]} has the same NHS number, plan type and start date.",
            )
        if not withdrawn:
            # A withdrawal may carry the wrong date of birth it was recorded with; that is
            # often why it is being withdrawn.
            earlier = self._birth_dates.get(nhs_number)
            if earlier is not None and earlier[0] != date_of_birth:
                raise _RowError(
                    RejectReason.DEMOGRAPHICS_CONFLICT,
                    f"Line {earlier[1]} has a different date of birth for the same NHS number.",
                )
            if end_date is None:
                open_key = (nhs_number, plan_type)
                if open_key in self._open:
                    raise _RowError(
                        RejectReason.OPEN_PLAN_EXISTS,
                        f"Line {self._open[open_key]} already has an open plan of this type for this NHS number.",
                    )
                self._open[open_key] = line
            if earlier is None:
                self._birth_dates[nhs_number] = (date_of_birth, line)
        self._keys[key] = line


def cells_for_lines(*, content: bytes, lines: set[int]) -> dict[int, list[str]]:
    """The cells of the given data lines, as sent: for rejections found after staging."""
    found: dict[int, list[str]] = {}
    if not lines:
        return found
    reader = csv.reader(_text_lines(content), strict=True)
    last_line = 0
    for cells in reader:
        line = last_line + 1
        last_line = reader.line_num
        if line in lines:
            found[line] = cells
            if len(found) == len(lines):
                break
    return found
