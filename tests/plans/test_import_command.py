import json

import pytest
from django.core.management import CommandError, call_command

from plans.models import Plan
from tests.plans.helpers import csv_bytes, row

pytestmark = pytest.mark.django_db


def _run(*args) -> tuple[dict, str | None]:
    from io import StringIO

    out = StringIO()
    error = None
    try:
        call_command("import_plans", *args, stdout=out)
    except CommandError as raised:
        error = str(raised)
    return json.loads(out.getvalue()) if out.getvalue() else {}, error


def test_import_prints_the_acknowledgement_as_json(local_authority, tmp_path):
    path = tmp_path / "plans.csv"
    path.write_bytes(csv_bytes([row(1), row(2, nhs_number="12")]))
    ack, error = _run("--organisation", "la001", str(path))
    assert error is None
    assert ack["file_code"] == "CPF03" and ack["local_authority"] == "LA001"
    assert ack["accepted"] == {"code": "CPR06", "count": 1}
    assert ack["rejected"][0]["line"] == 3 and ack["rejected"][0]["code"] == "CPR07"
    assert Plan.objects.count() == 1


def test_dry_run_prints_the_same_and_changes_nothing(local_authority, tmp_path):
    path = tmp_path / "plans.csv"
    path.write_bytes(csv_bytes([row(1), row(2)]))
    ack, error = _run("--organisation", "LA001", str(path), "--dry-run")
    assert (ack["file_code"], ack["counts"]["created"], ack["dry_run"], error) == ("CPF02", 2, True, None)
    assert not Plan.objects.exists()


def test_unreadable_file_prints_cpf01_and_fails(local_authority, tmp_path):
    path = tmp_path / "plans.csv"
    path.write_bytes("nhs_number,family_name\n9990000018,Zoë\n".encode("utf-16"))
    ack, error = _run("--organisation", "LA001", str(path))
    assert ack["file_code"] == "CPF01"
    assert error.startswith("CPF01")


def test_unknown_or_non_la_organisation_is_refused(care_setting, tmp_path):
    path = tmp_path / "plans.csv"
    path.write_bytes(csv_bytes([row(1)]))
    for code in ("NOPE1", care_setting.ods_code):
        _, error = _run("--organisation", code, str(path))
        assert "No active local authority" in error
    assert not Plan.objects.exists()
