"""CSV the service writes: every cell neutralised against spreadsheet formula injection."""

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.http import StreamingHttpResponse

# A cell starting with one of these is run as a formula by Excel, LibreOffice and Sheets.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_rows(header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow([csv_cell(c) for c in header])
    for row in rows:
        yield writer.writerow([csv_cell(c) for c in row])


def csv_response(filename: str, header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> StreamingHttpResponse:
    """Streams a CSV download; `filename` is ours (never user input) and ASCII."""
    response = StreamingHttpResponse(csv_rows(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
