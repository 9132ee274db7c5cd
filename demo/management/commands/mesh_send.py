"""manage.py mesh_send --as LA001 FILE: sends FILE to CP-IS's mailbox as that LA's case system
would, with mesh-client itself (none of the service's own MESH code), and prints its MESH id.

For the demo and a supplier's first try: the LA's password is the sandbox's unless given.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from mesh_client import MeshClient

from demo.mesh.sandbox import PASSWORD
from mesh.models import MeshMailbox


def la_mailbox(ods_code: str) -> str:
    mailbox = MeshMailbox.objects.filter(local_authority__ods_code=ods_code.strip().upper()).first()
    if mailbox is None:
        raise CommandError(f"No local authority with the ODS code {ods_code!r} has a MESH mailbox.")
    return mailbox.mailbox_id


def la_client(mailbox: str, password: str) -> MeshClient:
    if not settings.MESH_URL:
        raise CommandError("MESH_URL is not set (make run sets it to the local mesh-sandbox).")
    return MeshClient(settings.MESH_URL, mailbox, password, shared_key=settings.MESH_SHARED_KEY.encode() or None)


class Command(BaseCommand):
    help = "Sends a file to CP-IS through MESH as a local authority's case system would."

    def add_arguments(self, parser):
        parser.add_argument("--as", dest="ods_code", required=True, help="The local authority's ODS code.")
        parser.add_argument("--password", default=PASSWORD, help="The LA mailbox's password (the sandbox's).")
        parser.add_argument("--workflow", default=None, help="The workflow id (default: the upload's).")
        parser.add_argument("--local-id", default="", help="Mex-LocalID, e.g. the file's sequence number.")
        parser.add_argument("file")

    def handle(self, *args, ods_code: str, password: str, workflow: str | None, local_id: str, file: str, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"There is no file at {file!r}.")
        mailbox = la_mailbox(ods_code)
        with la_client(mailbox, password) as client:
            message_id = client.send_message(
                settings.MESH_MAILBOX_ID,
                path.read_bytes(),
                workflow_id=workflow or settings.MESH_WORKFLOW_UPLOAD,
                filename=path.name,
                local_id=local_id or None,
            )
        self.stdout.write(f"Sent {path.name} from {mailbox} to {settings.MESH_MAILBOX_ID}: MESH message {message_id}")
