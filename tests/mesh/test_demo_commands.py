"""The demo's MESH: seed_demo gives the demo LAs their mailboxes; `mesh_send --as` sends a file
as the LA's case system would, and `mesh_inbox --as` lists what came back."""

import io

import pytest
from django.core.management import CommandError, call_command

from demo.mesh import LA_MAILBOXES
from mesh.models import MeshMailbox
from mesh.services import mesh_poll
from plans.models import Plan
from tests.mesh.conftest import LA001
from tests.plans.helpers import csv_bytes, row

pytestmark = pytest.mark.django_db


def test_seed_demo_gives_the_demo_las_their_mailboxes():
    call_command("seed_demo", force=True, stdout=io.StringIO())
    assert dict(MeshMailbox.objects.values_list("local_authority__ods_code", "mailbox_id")) == LA_MAILBOXES


def test_mesh_send_then_mesh_inbox_round_trip(mesh, local_authority, tmp_path):
    path = tmp_path / "plans.csv"
    path.write_bytes(csv_bytes([row(1), row(2)]))
    out = io.StringIO()
    call_command("mesh_send", "--as", "la001", "--local-id", "SEQ-7", str(path), stdout=out)
    assert "MESH message" in out.getvalue()

    mesh_poll()

    assert Plan.objects.filter(organisation=local_authority).count() == 2
    [answer] = mesh.inbox(LA001)  # left waiting; its JSON checked against its schema
    out = io.StringIO()
    call_command("mesh_inbox", "--as", "LA001", "--show", "--acknowledge", stdout=out)
    listing = out.getvalue()
    assert listing.startswith("1 message(s) for LA001MB01")
    assert "CPIS_UPLOAD_ACK" in listing and "SEQ-7:acknowledgement" in listing and '"CPF02"' in listing
    out = io.StringIO()
    call_command("mesh_inbox", "--as", "LA001", stdout=out)
    assert out.getvalue().startswith("0 message(s)")


def test_mesh_send_for_an_la_without_a_mailbox_says_so(mesh, other_local_authority, tmp_path):
    path = tmp_path / "plans.csv"
    path.write_bytes(b"x")
    with pytest.raises(CommandError, match="has a MESH mailbox"):
        call_command("mesh_send", "--as", other_local_authority.ods_code, str(path))
