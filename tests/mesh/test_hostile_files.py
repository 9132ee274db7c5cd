"""Hostile and malformed files: each is acknowledged with its file code, stored nowhere else,
and never stops the poll (a good file in the same poll is applied)."""

import io
import json
import zipfile

import pytest

from mesh.models import InboundStatus, MeshInboundMessage
from mesh.services import mesh_poll
from plans.models import Plan, PlanUpload, UploadStatus
from tests.mesh.conftest import LA001, SERVICE
from tests.plans.helpers import HEADER, csv_bytes, row

pytestmark = pytest.mark.django_db

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"""
ENTITY_EXPANSION = (
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8))
    + b"]><l>&i;</l>"
)


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("plans.csv", b"0" * (50 * 1024 * 1024))  # 50 MB of zeros, ~50 KB zipped
    return buffer.getvalue()


HOSTILE = {
    "external_entity": EXTERNAL_ENTITY,
    "entity_expansion": ENTITY_EXPANSION,
    "zip_bomb": _zip_bomb(),
    "binary": bytes(range(256)) * 64,
    "utf16": csv_bytes([row(1)]).decode().encode("utf-16"),
    # MESH itself refuses a message of no bytes at send ("Data file is missing", code 02):
    # the emptiest file that reaches us is a byte-order mark and a line end.
    "empty": b"\xef\xbb\xbf\r\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_file_is_refused_with_cpf01_and_the_poll_goes_on(mesh, local_authority, name):
    mesh.send(LA001, HOSTILE[name], filename=f"{name}.csv", local_id=name)
    mesh.send(LA001, csv_bytes([row(1)]), filename="good.csv", local_id="good")

    result = mesh_poll()

    assert result.error == "" and len(result.received) == 2
    assert mesh.inbox(SERVICE) == []  # both acknowledged
    bad = MeshInboundMessage.objects.get(local_id=name)
    answers = {m["localid"]: json.loads(m["body"]) for m in mesh.inbox(LA001)}
    assert answers[f"{name}:acknowledgement"]["file_code"] == "CPF01"
    assert answers["good:acknowledgement"]["file_code"] == "CPF02"
    # Stored nowhere else: no upload kept the file, no plan came of it.
    if bad.upload_id is None:
        assert bad.status == InboundStatus.REFUSED
    else:
        upload = PlanUpload.objects.get(pk=bad.upload_id)
        assert (upload.status, bytes(upload.content)) == (UploadStatus.REFUSED, b"")
    assert Plan.objects.count() == 1


def test_a_file_over_the_size_limit_is_refused_unread(mesh, local_authority, settings):
    settings.PLAN_UPLOAD_MAX_BYTES = 10_000
    mesh.send(LA001, csv_bytes([row(n) for n in range(1, 400)]), local_id="big")

    mesh_poll()

    [answer] = mesh.inbox(LA001)
    ack = json.loads(answer["body"])
    assert ack["file_code"] == "CPF01" and "larger than" in ack["file_message"]
    assert not Plan.objects.exists()
    assert bytes(PlanUpload.objects.get().content) == b""


def test_a_file_over_the_row_limit_is_refused(mesh, local_authority, settings):
    settings.PLAN_UPLOAD_MAX_ROWS = 5
    mesh.send(LA001, csv_bytes([row(n) for n in range(1, 10)]), local_id="rows")

    mesh_poll()

    ack = json.loads(mesh.inbox(LA001)[0]["body"])
    assert ack["file_code"] == "CPF01"
    assert not Plan.objects.exists()


def test_a_header_only_file_is_answered_cpf04(mesh, local_authority):
    mesh.send(LA001, (",".join(HEADER) + "\n").encode())
    mesh_poll()
    assert json.loads(mesh.inbox(LA001)[0]["body"])["file_code"] == "CPF04"
