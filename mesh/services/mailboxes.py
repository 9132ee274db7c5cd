from django.db import transaction
from django.http import HttpRequest

from accounts.models import Organisation
from audit.models import AuditAction
from audit.services import audit_record
from mesh.models import MeshMailbox


def mesh_mailbox_set(*, local_authority: Organisation, mailbox_id: str, request: HttpRequest | None = None) -> None:
    """Sets (or, with "", removes) the LA's MESH mailbox; audited with the old and new ids."""
    mailbox_id = mailbox_id.strip().upper()
    with transaction.atomic():
        current = MeshMailbox.objects.select_for_update().filter(local_authority=local_authority).first()
        previous = current.mailbox_id if current else ""
        if previous == mailbox_id:
            return
        if not mailbox_id:
            MeshMailbox.objects.filter(local_authority=local_authority).delete()
        elif current is None:
            MeshMailbox.objects.create(local_authority=local_authority, mailbox_id=mailbox_id)
        else:
            current.mailbox_id = mailbox_id
            current.save(update_fields=["mailbox_id"])
        audit_record(
            action=AuditAction.MESH_MAILBOX_CHANGED, request=request, organisation=local_authority,
            detail={"local_authority": local_authority.ods_code, "from": previous, "to": mailbox_id},
        )  # fmt: skip
