"""The published JSON Schemas (docs/la-interface/) are valid 2020-12 schemas, and the check that
`MeshWorld.inbox` makes of every JSON message refuses what a supplier's validator would."""

import copy

import pytest

from tests.mesh.schemas import MESSAGE_TYPES, SCHEMA_DIR, schema_errors, validator

BASE = "https://cpis.example.nhs.uk/la-interface/"

ACKNOWLEDGEMENT = {
    "message_type": "upload_acknowledgement", "schema": f"{BASE}upload_acknowledgement.schema.json",
    "upload_id": 7, "local_authority": "E09000001", "status": "applied", "file_code": "CPF03",
    "file_message": "Some rows were rejected.",
    "counts": {"rows": 2, "accepted": 1, "rejected": 1, "created": 1, "updated": 0, "ended": 0, "withdrawn": 0,
               "reinstated": 0, "unchanged": 0},
    "accepted": {"code": "CPR06", "count": 1},
    "rejected": [{"line": 3, "code": "CPR07", "reason": "nhs_number_invalid", "message": "Not a valid NHS number."}],
    "identity": {"checked": 1, "matched": 1, "codes": {"matched": 1}, "match_rate": 100.0},
    "mesh_message_id": "20261207ABC", "filename": "plans.csv",
}  # fmt: skip
ATTENDANCE = {
    "message_type": "notification", "schema": f"{BASE}notification.schema.json",
    "delivery_id": 12, "notification_id": 5, "kind": "attendance", "local_authority_ods_code": "E09000001",
    "child": {"nhs_number": "9434765919", "family_name": "Smith", "given_names": "Ann", "date_of_birth": "2015-04-01"},
    "plan_types": ["CPP"], "first_attended_at": "2026-12-07T10:00:00+00:00",
    "last_attended_at": "2026-12-07T10:00:00+00:00", "attendance_count": 1,
    "care_setting": {"name": "A&E", "ods_code": "RXX01", "type": "emergency_department", "phone": "01234 567890"},
    "checked_by": {"name": "Dr Jones", "role": "clinician"},
}  # fmt: skip
INACTIVE = {
    **ATTENDANCE, "kind": "inactive_nhs_number", "care_setting": None, "checked_by": None,
    "inactive": {"reason": "invalidated", "replacement_nhs_number": ""},
}  # fmt: skip
ERROR = {
    "message_type": "error", "schema": f"{BASE}error.schema.json", "file_code": "CPF01",
    "file_message": "CP-IS does not take messages with this workflow id.", "mesh_message_id": "20261207ABC",
}  # fmt: skip


def test_every_schema_is_a_valid_2020_12_schema_named_by_its_file():
    for message_type in MESSAGE_TYPES:
        assert validator(message_type).schema["$id"] == f"{BASE}{message_type}.schema.json"
    assert sorted(p.name for p in SCHEMA_DIR.glob("*.schema.json")) == sorted(f"{m}.schema.json" for m in MESSAGE_TYPES)


@pytest.mark.parametrize("document", [ACKNOWLEDGEMENT, ATTENDANCE, INACTIVE, ERROR])
def test_well_formed_messages_pass(document):
    assert schema_errors(document) == []


def _broken(document: dict, path: tuple, value=None, *, delete: bool = False) -> dict:
    broken = copy.deepcopy(document)
    target = broken
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return broken


@pytest.mark.parametrize(
    ("document", "path", "value", "delete"),
    [
        (ACKNOWLEDGEMENT, ("file_code",), None, True),
        (ACKNOWLEDGEMENT, ("file_code",), "CPF99", False),
        (ACKNOWLEDGEMENT, ("rejected", 0, "line"), 0, False),
        (ACKNOWLEDGEMENT, ("rejected", 0, "code"), "CPF01", False),
        (ACKNOWLEDGEMENT, ("counts", "sideways"), 1, False),
        (ACKNOWLEDGEMENT, ("schema",), f"{BASE}notification.schema.json", False),
        (ACKNOWLEDGEMENT, ("surprise",), 1, False),
        (ATTENDANCE, ("child", "nhs_number"), "943476591", False),
        (ATTENDANCE, ("child", "date_of_birth"), "2015-13-01", False),
        (ATTENDANCE, ("last_attended_at",), "yesterday", False),
        (ATTENDANCE, ("kind",), "visit", False),
        (ATTENDANCE, ("care_setting",), None, False),
        (ATTENDANCE, ("plan_types",), [], False),
        (INACTIVE, ("inactive",), None, True),
        (INACTIVE, ("inactive", "replacement_nhs_number"), "12", False),
        (ERROR, ("file_code",), "CPF02", False),
        (ERROR, ("mesh_message_id",), None, True),
    ],
)
def test_a_message_that_breaks_its_schema_is_refused(document, path, value, delete):
    assert schema_errors(_broken(document, path, value, delete=delete)) != []


def test_a_message_of_no_type_we_publish_is_refused():
    assert schema_errors({"message_type": "upload"}) != []
    assert schema_errors([ERROR]) != []
