"""Each LA's MESH state for the operators' pages and /metrics: counts, times, ids and codes
only (no file content, no child data)."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q
from django.utils import timezone

from accounts.models import Organisation, OrganisationKind
from mesh.client import mesh_enabled
from mesh.models import (
    InboundStatus,
    MeshInboundMessage,
    MeshMailbox,
    MeshOutboundMessage,
    MeshPollState,
    OutboundKind,
    OutboundStatus,
)
from notifications.models import Channel, Delivery, DeliveryStatus

REPORTS_DAYS = 7


@dataclass
class LaMeshState:
    local_authority: Organisation
    mailbox_id: str
    last_file: MeshInboundMessage | None
    last_acknowledgement: MeshOutboundMessage | None
    pending_by_channel: dict[str, int]


@dataclass
class MeshState:
    enabled: bool
    poll: MeshPollState | None
    oldest_unacknowledged_at: datetime | None
    answers_failed_by_mailbox: list[tuple[str, int]]
    answers_pending: int
    # MESH's reports on messages of ours (mesh/services/reports.py) in the last REPORTS_DAYS.
    reports_recent: int = 0
    local_authorities: list[LaMeshState] = field(default_factory=list)

    @property
    def oldest_unacknowledged_age(self) -> float | None:
        if self.oldest_unacknowledged_at is None:
            return None
        return (timezone.now() - self.oldest_unacknowledged_at).total_seconds()


def mesh_state(*, local_authority: Organisation | None = None) -> MeshState:
    """The poll's figures and, per LA (one, or every LA), its mailbox, last file, last
    acknowledgement and notifications waiting per channel."""
    las = (
        [local_authority]
        if local_authority is not None
        else list(Organisation.objects.filter(kind=OrganisationKind.LOCAL_AUTHORITY, is_active=True).order_by("name"))
    )
    ids = [la.pk for la in las]
    mailboxes = dict(
        MeshMailbox.objects.filter(local_authority_id__in=ids).values_list("local_authority_id", "mailbox_id")
    )
    pending: dict[int, dict[str, int]] = {la_id: dict.fromkeys(Channel.values, 0) for la_id in ids}
    for la_id, channel, count in (
        Delivery.objects.filter(
            notification__local_authority_id__in=ids, status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]
        )
        .values_list("notification__local_authority_id", "channel")
        .annotate(count=Count("id"))
    ):
        pending[la_id][channel] = count
    rows = [
        LaMeshState(
            local_authority=la,
            mailbox_id=mailboxes.get(la.pk, ""),
            last_file=MeshInboundMessage.objects.filter(local_authority=la)
            .exclude(status=InboundStatus.REPORT)
            .order_by("-received_at")
            .first(),
            last_acknowledgement=MeshOutboundMessage.objects.filter(
                local_authority=la, kind=OutboundKind.ACKNOWLEDGEMENT
            )
            .defer("content")
            .order_by("-created_at")
            .first(),
            pending_by_channel=pending[la.pk],
        )
        for la in las
    ]
    inbound = MeshInboundMessage.objects.all()
    answers = MeshOutboundMessage.objects.all()
    if local_authority is not None:
        inbound = inbound.filter(local_authority=local_authority)
        answers = answers.filter(local_authority=local_authority)
    oldest = inbound.filter(Q(acknowledged_at__isnull=True) | Q(status=InboundStatus.STORED)).aggregate(
        oldest=Min("received_at")
    )["oldest"]
    failed = list(
        answers.filter(status=OutboundStatus.FAILED)
        .values_list("recipient")
        .annotate(count=Count("id"))
        .order_by("recipient")
    )
    return MeshState(
        enabled=mesh_enabled(),
        poll=MeshPollState.objects.filter(pk=1).first(),
        oldest_unacknowledged_at=oldest,
        answers_failed_by_mailbox=[(mailbox, count) for mailbox, count in failed],
        answers_pending=answers.filter(status=OutboundStatus.PENDING).count(),
        reports_recent=inbound.filter(
            status=InboundStatus.REPORT, received_at__gte=timezone.now() - timedelta(days=REPORTS_DAYS)
        ).count(),
        local_authorities=rows,
    )
