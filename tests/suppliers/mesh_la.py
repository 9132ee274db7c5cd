"""The "supplier's LA system" for the LA conformance tests: mesh-client on the supplier's own
mailbox of a real mesh-sandbox, sending plan files and fetching (and, if it is right,
acknowledging) what CP-IS sends back. Not our code path."""

from dataclasses import dataclass, field

from mesh_client import MeshClient

from demo.mesh.sandbox import PASSWORD, Sandbox
from tests.plans.helpers import HEADER, csv_bytes, days_ago, row

SERVICE = "X26CPIS01"
SUPPLIER = "ZSUPPMB01"
REAL_LA = "LA001MB01"
MAILBOXES = [SERVICE, SUPPLIER, REAL_LA]


def client(sandbox: Sandbox, mailbox: str) -> MeshClient:
    return MeshClient(sandbox.url, mailbox, PASSWORD, shared_key=sandbox.shared_key.encode(), max_retries=0)


def good_file(numbers: dict) -> bytes:
    return csv_bytes([row(i, nhs_number=number) for i, number in enumerate(numbers["good"], start=1)])


def rejected_file(numbers: dict, *, future_date: bool = True) -> bytes:
    valid, invalid, late = numbers["rejected"]
    rows = [row(11, nhs_number=valid), row(12, nhs_number=invalid)]
    rows.append(row(13, nhs_number=late, start_date=days_ago(-30) if future_date else days_ago(10)))
    return csv_bytes(rows)


def unreadable_file() -> bytes:
    return csv_bytes([row(21)], header=["child", "surname", *HEADER[2:]])


@dataclass
class LaSystem:
    """The supplier's system: `acknowledge` says which workflows it acknowledges once fetched."""

    sandbox: Sandbox
    acknowledge: set[str] = field(default_factory=lambda: {"CPIS_UPLOAD_ACK", "CPIS_NOTIFICATION"})
    fetched: list[dict] = field(default_factory=list)

    def send(self, content: bytes, local_id: str) -> str:
        with client(self.sandbox, SUPPLIER) as mesh:
            return str(
                mesh.send_message(
                    SERVICE, content, workflow_id="CPIS_UPLOAD", filename=f"{local_id}.csv", local_id=local_id
                )
            )

    def fetch(self) -> list[dict]:
        with client(self.sandbox, SUPPLIER) as mesh:
            for message_id in mesh.list_messages():
                message = mesh.retrieve_message(message_id)
                headers = dict(message.mex_headers())
                self.fetched.append({"id": message_id, **headers, "body": message.read()})
                if headers.get("workflowid") in self.acknowledge:
                    mesh.acknowledge_message(message_id)
        return self.fetched


def drain(sandbox: Sandbox) -> None:
    for mailbox in MAILBOXES:
        with client(sandbox, mailbox) as mesh:
            for message_id in mesh.list_messages():
                mesh.acknowledge_message(message_id)
