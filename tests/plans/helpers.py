"""Building plan files for tests: rows as dicts, written as the LAs' systems write them."""

import csv
import io
from datetime import date, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from plans.models import PlanUpload
from plans.uploads import plan_upload_import
from tests.factories import nhs_number_for

HEADER = [
    "nhs_number",
    "family_name",
    "given_names",
    "date_of_birth",
    "plan_type",
    "start_date",
    "end_date",
    "expected_due_date",
    "la_reference",
    "withdrawn",
]


def today() -> date:
    return timezone.localdate()


def days_ago(n: int) -> str:
    return (today() - timedelta(days=n)).isoformat()


def row(n: int = 1, **overrides) -> dict:
    """A valid CPP row for the n-th test child (8 years old, plan started 100 days ago)."""
    values = {
        "nhs_number": nhs_number_for(n),
        "family_name": "Smith",
        "given_names": f"Child {chr(65 + n % 26)}",
        "date_of_birth": days_ago(365 * 8 + n % 300),
        "plan_type": "CPP",
        "start_date": days_ago(100),
        "end_date": "",
        "expected_due_date": "",
        "la_reference": f"REF{n}",
        "withdrawn": "",
    }
    values.update(overrides)
    return values


def csv_bytes(rows: list[dict], header: list[str] = HEADER, *, newline: str = "\n", bom: bool = False) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    writer.writerow(header)
    for values in rows:
        writer.writerow([values.get(column, "") for column in header])
    data = buffer.getvalue().encode()
    return (b"\xef\xbb\xbf" + data) if bom else data


def import_bytes(organisation, content: bytes, *, dry_run: bool = False, filename: str = "plans.csv") -> PlanUpload:
    return plan_upload_import(
        organisation=organisation,
        filename=filename,
        file=SimpleUploadedFile(filename, content, content_type="text/csv"),
        dry_run=dry_run,
    )
