"""MESH's writes: the poll (inbound.py), answers to the LA (answers.py, outbound.py), the
mailboxes (mailboxes.py)."""

from mesh.services.answers import mesh_answers_write
from mesh.services.inbound import mesh_inbound_process, mesh_poll
from mesh.services.mailboxes import mesh_mailbox_set
from mesh.services.notifications import MeshSendFailed, mesh_notification_send
from mesh.services.outbound import mesh_outbound_send, mesh_outbound_send_due

__all__ = [
    "MeshSendFailed",
    "mesh_notification_send",
    "mesh_answers_write",
    "mesh_inbound_process",
    "mesh_mailbox_set",
    "mesh_outbound_send",
    "mesh_outbound_send_due",
    "mesh_poll",
]
