"""The corpus of bad files (issue 3): each with its expected acknowledgement, and none of them
changing any plan already held."""

import csv
import io
from datetime import timedelta

import pytest
from django.test import override_settings

from plans.models import FileCode, Plan, UploadStatus
from tests.factories import OrganisationFactory, PlanFactory, nhs_number_for
from tests.plans.helpers import HEADER, csv_bytes, days_ago, import_bytes, row, today

pytestmark = pytest.mark.django_db


@pytest.fixture
def held(local_authority, other_local_authority):
    """Plans already held: an open CPP at our LA (child 1), and child 2 at another LA."""
    return [
        PlanFactory(
            organisation=local_authority, nhs_number=nhs_number_for(1), date_of_birth=today() - timedelta(3000)
        ),
        PlanFactory(
            organisation=other_local_authority, nhs_number=nhs_number_for(2), date_of_birth=today() - timedelta(2000)
        ),
        PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(3), looked_after=True, ended=True),
    ]


def _snapshot() -> dict:
    return {p["id"]: p for p in Plan.objects.values()}


def _reasons(upload) -> dict[int, str]:
    return dict(upload.rejections.values_list("line_number", "reason"))


def _good(n: int) -> dict:
    return row(100 + n)


# (id, file bytes, expected file code, {line: reason} of the rejected rows)
CORPUS = [
    ("wrong-encoding", "nhs_number,family_name,given_names,date_of_birth,plan_type,start_date\n"
     f"{nhs_number_for(101)},Zoë,Ann,2018-01-01,CPP,{days_ago(5)}\n".encode("latin-1"), FileCode.CPF01, {}),
    ("binary-data", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", FileCode.CPF01, {}),
    ("zip-spreadsheet", b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", FileCode.CPF01, {}),
    ("empty-file", b"", FileCode.CPF01, {}),
    ("only-blank-lines", b"\n\n\r\n", FileCode.CPF01, {}),
    ("header-only", csv_bytes([]), FileCode.CPF04, {}),
    ("missing-columns", csv_bytes([_good(1)], header=["nhs_number", "family_name", "plan_type"]), FileCode.CPF01, {}),
    ("unknown-extra-column", csv_bytes([_good(1)], header=[*HEADER, "end_dat"]), FileCode.CPF01, {}),
    ("duplicate-header", csv_bytes([_good(1)], header=[*HEADER, "NHS_Number"]), FileCode.CPF01, {}),
    ("unnamed-column", csv_bytes([_good(1)], header=[*HEADER, ""]), FileCode.CPF01, {}),
    ("unterminated-quote", csv_bytes([_good(1)]) + b'"9990000018,Smith\n', FileCode.CPF01, {}),
    ("not-csv-at-all", b"Dear team, please find the plans attached.\nThanks\n", FileCode.CPF01, {}),
    ("invalid-nhs-numbers", csv_bytes([_good(1), row(4, nhs_number="9990000019"), row(5, nhs_number="12345"),
     row(6, nhs_number="")]), FileCode.CPF03, {3: "invalid_nhs_number", 4: "invalid_nhs_number", 5: "missing_field"}),
    ("impossible-dates", csv_bytes([_good(1), row(4, date_of_birth="2019-02-30"), row(5, start_date="31/04/2024"),
     row(6, date_of_birth="1899-12-31"), row(7, start_date="tomorrow"), row(8, date_of_birth="24-01-2019")]),
     FileCode.CPF03, {3: "invalid_date", 4: "invalid_date", 5: "invalid_date", 6: "invalid_date", 7: "invalid_date"}),
    ("future-dates", csv_bytes([row(4, date_of_birth=(today() + timedelta(1)).isoformat()),
     row(5, start_date=(today() + timedelta(1)).isoformat()), row(6, end_date=(today() + timedelta(3)).isoformat())]),
     FileCode.CPF04, {2: "future_date", 3: "future_date", 4: "future_date"}),
    ("end-before-start", csv_bytes([_good(1), row(4, start_date=days_ago(10), end_date=days_ago(11))]),
     FileCode.CPF03, {3: "end_before_start"}),
    ("duplicate-rows", csv_bytes([_good(1), _good(1), _good(2)]), FileCode.CPF03, {3: "duplicate_row"}),
    ("two-open-plans-in-file", csv_bytes([row(4, start_date=days_ago(50)), row(4, start_date=days_ago(40))]),
     FileCode.CPF03, {3: "open_plan_exists"}),
    ("open-plan-already-held", csv_bytes([_good(1), row(1, date_of_birth=days_ago(3000), start_date=days_ago(20))]),
     FileCode.CPF03, {3: "open_plan_exists"}),
    ("demographics-conflict-with-held", csv_bytes([_good(1), row(2, date_of_birth=days_ago(2001))]),
     FileCode.CPF03, {3: "demographics_conflict"}),
    ("demographics-conflict-in-file", csv_bytes([row(4, date_of_birth=days_ago(3000)),
     row(4, plan_type="LAC", date_of_birth=days_ago(3001))]), FileCode.CPF03, {3: "demographics_conflict"}),
    ("subject-over-18", csv_bytes([_good(1), row(4, date_of_birth=days_ago(365 * 19)),
     row(5, date_of_birth=days_ago(365 * 30), start_date=days_ago(10), end_date=days_ago(5))]),
     FileCode.CPF03, {3: "over_18", 4: "over_18"}),
    ("control-characters-in-names", csv_bytes([_good(1), row(4, family_name="Smith\x07"),
     row(5, given_names="Ann\tMarie"), row(6, family_name="Smith\u202eevil")]),
     FileCode.CPF03, {3: "invalid_name", 4: "invalid_name", 5: "invalid_name"}),
    # Names are display data: punctuation, markup and formulas are kept as given (escaped on
    # every page and neutralised in every CSV), so no child's plan goes unshared for its name.
    ("punctuation-markup-and-formulas-in-names", csv_bytes([row(4, family_name="Stone, jr"),
     row(5, family_name="Smith (Jones)"), row(6, family_name="Kowalska/Nowak"),
     row(7, family_name="<script>alert(1)</script>"), row(8, given_names="=HYPERLINK(\"http://x\")"),
     row(9, given_names="@SUM(A1:A9)"), row(10, nhs_number="=1+1")]),
     FileCode.CPF03, {8: "invalid_nhs_number"}),
    ("missing-and-extra-cells", _good(1) and (csv_bytes([_good(1)]) + b"9990000018,Smith\n"
     + csv_bytes([_good(2)]).split(b"\n", 1)[1].rstrip(b"\n") + b",extra\n"), FileCode.CPF03,
     {3: "wrong_cell_count", 4: "wrong_cell_count"}),
    ("bad-plan-type-and-withdrawn", csv_bytes([_good(1), row(4, plan_type="CIN"), row(5, withdrawn="maybe")]),
     FileCode.CPF03, {3: "invalid_plan_type", 4: "invalid_withdrawn"}),
    ("ucpp-without-due-date-and-cpp-with-one", csv_bytes([_good(1), row(4, plan_type="UCPP", date_of_birth=days_ago(9000)),
     row(5, expected_due_date=days_ago(-30))]), FileCode.CPF03, {3: "due_date_required", 4: "due_date_not_allowed"}),
    ("withdrawal-of-unknown-plan", csv_bytes([_good(1), row(4, withdrawn="Y")]), FileCode.CPF03,
     {3: "no_plan_to_withdraw"}),
    ("too-long-values", csv_bytes([_good(1), row(4, family_name="A" * 101), row(5, la_reference="R" * 51)]),
     FileCode.CPF03, {3: "too_long", 4: "too_long"}),
]  # fmt: skip


@pytest.mark.parametrize(("content", "file_code", "rejected"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_bad_file_is_acknowledged_and_changes_no_held_plan(held, local_authority, content, file_code, rejected):
    before = _snapshot()
    upload = import_bytes(local_authority, content)
    assert upload.file_code == file_code, upload.file_message
    assert upload.file_message
    assert _reasons(upload) == rejected
    after = _snapshot()
    assert {pk: after[pk] for pk in before} == before
    if file_code in (FileCode.CPF01, FileCode.CPF04):
        assert after == before
        assert upload.status == UploadStatus.REFUSED
    else:
        assert upload.status == UploadStatus.APPLIED
        assert len(after) - len(before) == upload.counts["created"] > 0


def test_wrong_encoding_names_the_line_and_the_fix(held, local_authority):
    upload = import_bytes(local_authority, CORPUS[0][1])
    assert "not UTF-8" in upload.file_message
    assert "line 2" in upload.file_message


def test_missing_columns_are_named(local_authority):
    upload = import_bytes(local_authority, csv_bytes([row(1)], header=["nhs_number", "family_name", "plan_type"]))
    assert "given_names, date_of_birth, start_date" in upload.file_message


def test_bom_crlf_blank_lines_and_any_column_order_are_accepted(held, local_authority):
    columns = list(reversed(HEADER))
    body = csv_bytes([row(4), row(5)], header=columns, newline="\r\n", bom=True)
    header_line, rest = body.split(b"\r\n", 1)
    # Upper-case column names, a blank line after the header and an empty row at the end.
    body = header_line.upper() + b"\r\n\r\n" + rest + b",,,,,,,,,\r\n\r\n"
    upload = import_bytes(local_authority, body)
    assert upload.file_code == FileCode.CPF02, upload.file_message
    assert upload.counts["created"] == upload.counts["rows"] == 2


def test_line_numbers_count_blank_lines_and_quoted_newlines(local_authority):
    content = csv_bytes([row(4, la_reference="two\nlines"), row(5, nhs_number="1")])
    content = content.replace(b"\n", b"\n\n", 1)  # a blank line after the header
    upload = import_bytes(local_authority, content)
    # Header on line 1, blank line 2, the quoted newline spans lines 3-4, so the next row is line 5.
    assert _reasons(upload) == {3: "invalid_reference", 5: "invalid_nhs_number"}


def test_nhs_numbers_with_spaces_and_hyphens_are_accepted(local_authority):
    number = nhs_number_for(7)
    upload = import_bytes(local_authority, csv_bytes([row(7, nhs_number=f"{number[:3]} {number[3:6]}-{number[6:]}")]))
    assert upload.file_code == FileCode.CPF02
    assert Plan.objects.get().nhs_number == number


def test_uk_dates_and_lower_case_types_are_accepted(local_authority):
    upload = import_bytes(local_authority, csv_bytes([row(7, date_of_birth="5/3/2019", plan_type="lac")]))
    assert upload.file_code == FileCode.CPF02
    plan = Plan.objects.get()
    assert (plan.date_of_birth.isoformat(), plan.plan_type) == ("2019-03-05", "LAC")


@override_settings(PLAN_UPLOAD_MAX_BYTES=1000)
def test_file_over_the_size_limit_is_refused_unread(held, local_authority):
    before = _snapshot()
    upload = import_bytes(local_authority, csv_bytes([row(n) for n in range(10, 40)]))
    assert (upload.file_code, upload.status) == (FileCode.CPF01, UploadStatus.REFUSED)
    assert "larger than" in upload.file_message
    assert bytes(upload.content) == b""
    assert _snapshot() == before


@override_settings(PLAN_UPLOAD_MAX_ROWS=3)
def test_file_over_the_row_limit_is_refused(held, local_authority):
    before = _snapshot()
    upload = import_bytes(local_authority, csv_bytes([row(n) for n in range(10, 14)]))
    assert upload.file_code == FileCode.CPF01
    assert "more than 3 rows" in upload.file_message
    assert _snapshot() == before


@override_settings(PLAN_UPLOAD_MAX_ROWS=3)
def test_file_at_the_row_limit_is_accepted(local_authority):
    upload = import_bytes(local_authority, csv_bytes([row(n) for n in range(10, 13)]))
    assert upload.file_code == FileCode.CPF02


def test_formula_cells_are_neutralised_in_the_rejected_rows_csv(local_authority, role_user, client_for):
    # Each row is rejected for its date; its formula-like cells must reach the report inert.
    upload = import_bytes(local_authority, csv_bytes([
        row(4, family_name='=HYPERLINK("http://x")', start_date="tomorrow"),
        row(5, given_names="+44 1234", start_date="tomorrow"), row(6, family_name="-2+3", start_date="tomorrow"),
        row(7, given_names="@SUM(A1:A9)", start_date="tomorrow"), row(8, nhs_number="=1+1"),
    ]))  # fmt: skip
    client = client_for(role_user("plan_manager"))
    response = client.get(f"/plans/uploads/{upload.pk}/rejected-rows.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["line_number", "code", "reason", "message"]
    cells = [cell for r in rows[1:] for cell in r]
    assert '\'=HYPERLINK("http://x")' in cells
    assert "'+44 1234" in cells
    assert "'-2+3" in cells
    assert "'@SUM(A1:A9)" in cells
    assert "'=1+1" in cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)


def test_a_rejected_row_never_touches_another_las_plan(held, local_authority, other_local_authority):
    """The LA is the uploader's: a row for a child another LA holds makes a plan of our own."""
    theirs = held[1]
    upload = import_bytes(
        local_authority,
        csv_bytes(
            [
                row(
                    2,
                    date_of_birth=theirs.date_of_birth.isoformat(),
                    start_date=theirs.start_date.isoformat(),
                    end_date=days_ago(1),
                )
            ]
        ),
    )
    assert upload.counts["created"] == 1
    theirs.refresh_from_db()
    assert theirs.end_date is None
    assert Plan.objects.filter(organisation=other_local_authority).count() == 1
    assert OrganisationFactory._meta.model.objects.count() >= 2
