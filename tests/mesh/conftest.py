"""A real mesh-sandbox per test session (its own port, store and mailboxes), and helpers that
act as an LA's case system would: mesh-client, not our code path."""

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from mesh_client import MeshClient

from demo.mesh.sandbox import PASSWORD, Sandbox
from mesh.models import MeshMailbox
from tests.mesh.schemas import assert_valid

SERVICE = "X26CPIS01"
LA001 = "LA001MB01"
LA002 = "LA002MB01"
STRANGER = "X99NOLA01"
MAILBOXES = [SERVICE, LA001, LA002, STRANGER]


@pytest.fixture(scope="session")
def mesh_sandbox(tmp_path_factory) -> Iterator[Sandbox]:
    sandbox = Sandbox(directory=tmp_path_factory.mktemp("mesh-sandbox"), mailboxes=MAILBOXES)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@dataclass
class MeshWorld:
    sandbox: Sandbox

    def client(self, mailbox: str, *, max_chunk_size: int = 75 * 1024 * 1024) -> MeshClient:
        return MeshClient(
            self.sandbox.url,
            mailbox,
            PASSWORD,
            shared_key=self.sandbox.shared_key.encode(),
            max_chunk_size=max_chunk_size,
            max_retries=0,
        )

    def send(self, sender: str, content: bytes, *, workflow_id: str = "CPIS_UPLOAD", **headers) -> str:
        with self.client(sender, max_chunk_size=headers.pop("max_chunk_size", 75 * 1024 * 1024)) as client:
            headers.setdefault("filename", "plans.csv")
            return str(client.send_message(SERVICE, content, workflow_id=workflow_id, **headers))

    def inbox(self, mailbox: str) -> list[dict]:
        """Every message waiting for `mailbox`: its MESH headers and body; left unacknowledged.
        Each JSON one is checked against the published schema its `message_type` names."""
        found = []
        with self.client(mailbox) as client:
            for message_id in client.list_messages():
                message = client.retrieve_message(message_id)
                received = {"id": message_id, **dict(message.mex_headers()), "body": message.read()}
                if received.get("content-type") == "application/json":
                    assert_valid(json.loads(received["body"]))
                found.append(received)
        return found

    def drain(self) -> None:
        for mailbox in MAILBOXES:
            with self.client(mailbox) as client:
                for message_id in client.list_messages():
                    client.acknowledge_message(message_id)

    def wait_for(self, mailbox: str, count: int, timeout: float = 30.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            messages = self.inbox(mailbox)
            if len(messages) >= count or time.monotonic() > deadline:
                return messages
            time.sleep(0.2)


@pytest.fixture
def mesh(mesh_sandbox, settings, local_authority) -> MeshWorld:
    """MESH configured against the session's sandbox, empty inboxes, LA001's mailbox set."""
    settings.MESH_URL = mesh_sandbox.url
    settings.MESH_MAILBOX_ID = SERVICE
    settings.MESH_PASSWORD = PASSWORD
    settings.MESH_SHARED_KEY = mesh_sandbox.shared_key
    settings.MESH_TIMEOUT = 5.0
    world = MeshWorld(sandbox=mesh_sandbox)
    world.drain()
    MeshMailbox.objects.create(local_authority=local_authority, mailbox_id=LA001)
    return world
