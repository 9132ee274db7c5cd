"""Every identity code through `manage.py import_plans`, against the local PDS server process."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from identity.models import IdentityStatus, PdsLookup, VerifiedIdentity
from plans.models import Plan
from tests.identity.pds import patient_for
from tests.plans.helpers import csv_bytes, row

pytestmark = pytest.mark.django_db


def _import(tmp_path, rows, *args) -> tuple[dict, str | None]:
    path = tmp_path / "plans.csv"
    path.write_bytes(csv_bytes(rows))
    out = StringIO()
    error = None
    try:
        call_command("import_plans", "--organisation", "LA001", str(path), *args, stdout=out)
    except CommandError as raised:
        error = str(raised)
    return json.loads(out.getvalue()), error


def _codes(ack) -> dict[int, str]:
    return {r["line"]: r["code"] for r in ack["rejected"]}


def test_every_record_code_is_answered(local_authority, pds, tmp_path):
    matched = row(1)
    mistyped_name = row(2)
    pds.add(patient_for(matched), patient_for(mistyped_name, family=["Smyth"][0]))
    rows = [
        matched,  # line 2: CPR06
        row(3),  # line 3: not on PDS: CPR01
        row(4, nhs_number="9000000025", family_name="Smythe", given_names="Janet", date_of_birth="2010-10-22"),  # CPR02
        mistyped_name,  # line 5: PDS says Smyth: CPR03
        row(6, nhs_number="RBAX 1234"),  # line 6: old style: CPR04
        row(7, nhs_number="9000001013", family_name="Smith", given_names="Jane", date_of_birth="2010-10-22"),  # CPR05
    ]
    ack, error = _import(tmp_path, rows)
    assert error is None
    assert ack["file_code"] == "CPF03"
    assert ack["accepted"] == {"code": "CPR06", "count": 1}
    assert _codes(ack) == {3: "CPR01", 4: "CPR02", 5: "CPR03", 6: "CPR04", 7: "CPR05"}
    messages = {r["line"]: r["message"] for r in ack["rejected"]}
    assert "replaced by 900 000 1005" in messages[7]
    assert "family name does not match" in messages[5]
    assert "Smyth" not in messages[5]  # PDS's value is never shown
    assert ack["identity"] == {
        "checked": 6,
        "matched": 1,
        "codes": {"CPR01": 1, "CPR02": 1, "CPR03": 1, "CPR04": 1, "CPR05": 1},
        "match_rate": 16.7,
    }
    assert list(Plan.objects.values_list("nhs_number", flat=True)) == [matched["nhs_number"]]
    identity = VerifiedIdentity.objects.get()
    assert (identity.nhs_number, identity.status, identity.date_of_birth.isoformat()) == (
        matched["nhs_number"], IdentityStatus.VERIFIED, matched["date_of_birth"],
    )  # fmt: skip
    assert not PdsLookup.objects.exists()  # forgotten once applied


@pytest.mark.parametrize(
    ("sent", "on_pds"),
    [
        ({"family_name": "SMITH", "given_names": "jane"}, {"family": "Smith", "given": ["Jane"]}),
        ({"family_name": "Zoe", "given_names": "Chloe"}, {"family": "Zoë", "given": ["Chloé"]}),
        (
            {"family_name": "O'Neill Davies", "given_names": "Mary Jane"},
            {"family": "O'Neill-Davies", "given": ["Mary-Jane"]},
        ),
        ({"family_name": "Smith", "given_names": "J"}, {"family": "Smith", "given": ["Jayne", "Ann"]}),
        ({"family_name": "Smith", "given_names": "Jayne Ann"}, {"family": "Smith", "given": ["Jayne"]}),
    ],
)
def test_names_match_despite_case_accents_punctuation_and_initials(local_authority, pds, tmp_path, sent, on_pds):
    sent_row = row(1, **sent)
    pds.add(patient_for(sent_row, **on_pds))
    ack, error = _import(tmp_path, [sent_row])
    assert (ack["file_code"], error) == ("CPF02", None)


@pytest.mark.parametrize(
    ("sent", "why"),
    [
        ({"given_names": "Jan"}, "given name does not match"),
        ({"family_name": "Smithers"}, "family name does not match"),
        ({"date_of_birth": "2015-01-02"}, "date of birth does not match"),
    ],
)
def test_a_close_but_different_detail_is_not_verified(local_authority, pds, tmp_path, sent, why):
    on_pds = row(1, given_names="Jane", date_of_birth="2015-01-01")
    pds.add(patient_for(on_pds))
    ack, error = _import(tmp_path, [{**on_pds, **sent}])
    assert ack["file_code"] == "CPF04" and error.startswith("CPF04")
    assert ack["rejected"][0]["code"] == "CPR03" and why in ack["rejected"][0]["message"]
    assert not Plan.objects.exists()


def test_a_withdrawal_is_never_held_back_by_pds(local_authority, pds, tmp_path):
    sent = row(1)
    pds.add(patient_for(sent))
    _import(tmp_path, [sent])
    withdrawn = {**sent, "withdrawn": "Y"}
    pds.reset()  # PDS no longer knows the number
    ack, error = _import(tmp_path, [withdrawn])
    assert (ack["file_code"], error) == ("CPF02", None)
    assert Plan.objects.get().withdrawn


def test_a_deceased_child_is_verified_and_recorded_as_deceased(local_authority, pds, tmp_path):
    sent = row(1)
    pds.add(patient_for(sent, deceased="2026-01-01"))
    ack, _ = _import(tmp_path, [sent])
    assert ack["file_code"] == "CPF02"
    assert VerifiedIdentity.objects.get().status == IdentityStatus.DECEASED


def test_the_sandbox_patients_are_verified_by_the_rules_for_the_deceased_restricted_and_bare(
    local_authority, pds, tmp_path
):
    """On the PDS sandbox 9000000009 (Jane Smith) is deceased: a row that matches is verified and
    recorded as deceased (docs/plans.md "Deceased"). 9000000025 is restricted, and deceased:
    refused as sensitive. 9000000033 has no name or date of birth: nothing can match it."""
    rows = [
        row(1, nhs_number="9000000009", family_name="Smith", given_names="Jane", date_of_birth="2010-10-22"),
        row(2, nhs_number="9000000025", family_name="Smythe", given_names="Janet", date_of_birth="2010-10-22"),
        row(3, nhs_number="9000000033", family_name="Smith", given_names="Jane", date_of_birth="2010-10-22"),
    ]
    ack, error = _import(tmp_path, rows)
    assert (ack["file_code"], error) == ("CPF03", None)
    assert ack["accepted"] == {"code": "CPR06", "count": 1}
    assert _codes(ack) == {3: "CPR02", 4: "CPR03"}
    messages = {r["line"]: r["message"] for r in ack["rejected"]}
    assert "date of birth, family name and given name do not match" in messages[4]
    identity = VerifiedIdentity.objects.get()
    assert (identity.nhs_number, identity.status) == ("9000000009", IdentityStatus.DECEASED)
    assert list(Plan.objects.values_list("nhs_number", flat=True)) == ["9000000009"]


def test_without_identity_service_the_old_rules_apply(local_authority, settings, tmp_path):
    settings.IDENTITY_SERVICE = "none"
    ack, error = _import(tmp_path, [row(1), row(2, nhs_number="RBAX 1234")])
    assert ack["file_code"] == "CPF03" and ack["identity"] is None
    assert _codes(ack) == {3: "CPR07"}


def test_import_exits_with_cpf05_when_pds_is_down_and_the_file_is_held(local_authority, pds, tmp_path):
    pds.add(patient_for(row(1)))
    pds.control(outage=True)
    ack, error = _import(tmp_path, [row(1)])
    assert (ack["file_code"], ack["status"]) == ("CPF05", "held")
    assert error.startswith("CPF05") and not Plan.objects.exists()


def test_a_dry_run_with_pds_down_is_refused_not_held(local_authority, pds, tmp_path):
    pds.control(outage=True)
    ack, error = _import(tmp_path, [row(1)], "--dry-run")
    assert (ack["file_code"], ack["status"]) == ("CPF05", "refused") and error.startswith("CPF05")
