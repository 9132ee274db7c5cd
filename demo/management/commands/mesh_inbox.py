"""manage.py mesh_inbox --as LA001 [--acknowledge] [--show]: lists what CP-IS sent to that LA's
MESH mailbox (acknowledgements, rejected rows, notifications), read with mesh-client itself."""

from django.core.management.base import BaseCommand

from demo.management.commands.mesh_send import la_client, la_mailbox
from demo.mesh.sandbox import PASSWORD


class Command(BaseCommand):
    help = "Lists the messages waiting in a local authority's MESH inbox."

    def add_arguments(self, parser):
        parser.add_argument("--as", dest="ods_code", required=True, help="The local authority's ODS code.")
        parser.add_argument("--password", default=PASSWORD, help="The LA mailbox's password (the sandbox's).")
        parser.add_argument("--show", action="store_true", help="Print each message's body too.")
        parser.add_argument("--acknowledge", action="store_true", help="Acknowledge (remove) each one listed.")

    def handle(self, *args, ods_code: str, password: str, show: bool, acknowledge: bool, **options):
        mailbox = la_mailbox(ods_code)
        with la_client(mailbox, password) as client:
            message_ids = client.list_messages()
            self.stdout.write(f"{len(message_ids)} message(s) for {mailbox}")
            for message_id in message_ids:
                message = client.retrieve_message(message_id)
                body = message.read()
                self.stdout.write(
                    f"{message_id}  {message.workflow_id}  {message.filename}  local id {message.local_id}  "
                    f"{len(body)} bytes"
                )
                if show:
                    self.stdout.write(body.decode("utf-8", errors="replace"))
                if acknowledge:
                    client.acknowledge_message(message_id)
