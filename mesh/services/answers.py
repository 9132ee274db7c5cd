"""What we send back for a file: written into the MESH outbox in the transaction that decides
it, sent after commit (outbound.py)."""

import csv
import io

from django.conf import settings

from accounts.models import Organisation
from mesh.formats import ANSWER_FORMAT
from mesh.models import MeshInboundMessage, MeshOutboundMessage, OutboundKind
from plans.models import PlanUpload
from plans.uploads import plan_upload_acknowledgement, rejected_rows_report


def _local_id(inbound: MeshInboundMessage, kind: str) -> str:
    # The LA's own local id if it gave one, so its system ties the answer to its file.
    return f"{inbound.local_id or inbound.message_id}:{kind}"[:255]


def mesh_answers_write(*, inbound: MeshInboundMessage, upload: PlanUpload | None = None) -> None:
    """Writes the answers to one file; returns their ids. A file with an upload gets its
    acknowledgement and, if rows were rejected, the rejected-rows CSV; a refused file gets an
    acknowledgement with its file code (an LA's) or an error report (a mailbox of no LA, a
    workflow we do not take). A second call for the same file writes nothing new."""
    if MeshOutboundMessage.objects.filter(inbound=inbound).exists():
        return
    answers: list[MeshOutboundMessage] = []
    if upload is not None:
        acknowledgement = plan_upload_acknowledgement(upload=upload)
        acknowledgement["mesh_message_id"] = inbound.message_id
        acknowledgement["filename"] = inbound.filename
        answers.append(_answer(inbound, OutboundKind.ACKNOWLEDGEMENT, ANSWER_FORMAT.acknowledgement(acknowledgement)))
        if upload.rejections.exists():
            answers.append(_rejected_rows(inbound, upload))
    elif inbound.local_authority is not None and inbound.workflow_id == settings.MESH_WORKFLOW_UPLOAD:
        answers.append(
            _answer(inbound, OutboundKind.ACKNOWLEDGEMENT, ANSWER_FORMAT.acknowledgement(
                _refusal_acknowledgement(inbound.local_authority, inbound)
            ))
        )  # fmt: skip
    else:
        body = ANSWER_FORMAT.error(file_code=inbound.file_code, message=inbound.refusal, message_id=inbound.message_id)
        answers.append(_answer(inbound, OutboundKind.ERROR, body, workflow=settings.MESH_WORKFLOW_ERROR))
    MeshOutboundMessage.objects.bulk_create(answers)


def _answer(inbound: MeshInboundMessage, kind: str, body: bytes, *, workflow: str = "") -> MeshOutboundMessage:
    return MeshOutboundMessage(
        inbound=inbound,
        local_authority=inbound.local_authority,
        recipient=inbound.sender,
        kind=kind,
        workflow_id=workflow or settings.MESH_WORKFLOW_ACKNOWLEDGEMENT,
        filename=f"cpis_{kind}_{inbound.message_id}.{ANSWER_FORMAT.extension}",
        local_id=_local_id(inbound, kind),
        content_type=ANSWER_FORMAT.content_type,
        content=body,
    )


def _rejected_rows(inbound: MeshInboundMessage, upload: PlanUpload) -> MeshOutboundMessage:
    header, rows = rejected_rows_report(upload=upload)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return MeshOutboundMessage(
        inbound=inbound,
        local_authority=inbound.local_authority,
        recipient=inbound.sender,
        kind=OutboundKind.REJECTED_ROWS,
        workflow_id=settings.MESH_WORKFLOW_ACKNOWLEDGEMENT,
        filename=f"cpis_rejected_rows_{inbound.message_id}.csv",
        local_id=_local_id(inbound, OutboundKind.REJECTED_ROWS),
        content_type="text/csv",
        content=buffer.getvalue().encode(),
    )


def _refusal_acknowledgement(local_authority: Organisation, inbound: MeshInboundMessage) -> dict[str, object]:
    return {
        "upload_id": None,
        "local_authority": local_authority.ods_code,
        "status": "refused",
        "file_code": inbound.file_code,
        "file_message": inbound.refusal,
        "counts": {},
        "accepted": {"code": "CPR06", "count": 0},
        "rejected": [],
        "identity": None,
        "mesh_message_id": inbound.message_id,
        "filename": inbound.filename,
    }
