"""The JSON Schemas we publish to LAs' suppliers (docs/la-interface/), checked against every JSON
message a test receives from MESH: `MeshWorld.inbox` calls `assert_valid` on each, so no test
of the MESH channel passes on a message a supplier's validator would refuse."""

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

SCHEMA_DIR = Path(__file__).resolve().parent.parent.parent / "docs" / "la-interface"
MESSAGE_TYPES = ("upload_acknowledgement", "notification", "error")


@cache
def validator(message_type: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{message_type}.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    # The format checker checks "date" and, with rfc3339-validator installed, "date-time".
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_errors(document: Any) -> list[str]:
    """Every way `document` breaks the schema its `message_type` names ([] if none)."""
    message_type = document.get("message_type") if isinstance(document, dict) else None
    if message_type not in MESSAGE_TYPES:
        return [f"message_type {message_type!r} names none of our schemas"]
    errors: list[ValidationError] = sorted(validator(message_type).iter_errors(document), key=str)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]


def assert_valid(document: Any) -> None:
    errors = schema_errors(document)
    assert not errors, f"{document.get('message_type') if isinstance(document, dict) else document}: {errors}"
