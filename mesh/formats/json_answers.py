"""JSON for what we send back: acknowledgements, notifications and error reports, each with a
`message_type` and a `schema` naming its JSON Schema (docs/la-interface/*.schema.json)."""

import json
from typing import Any

from mesh.formats.base import AnswerFormat

SCHEMA_BASE = "https://cpis.example.nhs.uk/la-interface/"


def _encode(message_type: str, body: dict[str, Any]) -> bytes:
    document = {"message_type": message_type, "schema": f"{SCHEMA_BASE}{message_type}.schema.json", **body}
    return json.dumps(document, separators=(",", ":"), sort_keys=False).encode()


class JsonAnswers(AnswerFormat):
    name = "json"
    extension = "json"
    content_type = "application/json"

    def acknowledgement(self, acknowledgement: dict[str, Any]) -> bytes:
        return _encode("upload_acknowledgement", acknowledgement)

    def notification(self, notification: dict[str, Any]) -> bytes:
        return _encode("notification", notification)

    def error(self, *, file_code: str, message: str, message_id: str) -> bytes:
        return _encode("error", {"file_code": file_code, "file_message": message, "mesh_message_id": message_id})
