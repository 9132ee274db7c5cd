"""The figures operators watch, for the service-health page, each LA's delivery page and
`/metrics`: one function, so the page and the alerts can never disagree.

Child data never appears here: counts, ages, ids, organisation names and task names only.
"""

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from celery.schedules import crontab
from django.conf import settings
from django.db.models import Count, Max, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Organisation
from audit.models import AuditEvent
from core.dates import day_start
from cpis.health import HEARTBEAT_KEY
from cpis.resilience import cache_breaker
from mesh.client import mesh_enabled
from notifications.models import Channel, Delivery, DeliveryStatus, Notification, NotificationStatus
from notifications.services import delivery_queue
from operations.models import PeriodicTaskRun, WorkerPresence
from operations.tasks import POOL_HEARTBEAT_KEY
from plans.models import PlanUpload

AUDIT_DAYS = 7


@dataclass
class ChannelFigures:
    channel: str
    label: str
    pending: int = 0
    oldest_pending_age: float | None = None  # seconds
    failed: int = 0
    # Seconds since the channel's worker pool ran its heartbeat (None: never, or Redis down).
    pool_heartbeat_age: float | None = None

    @property
    def pool_ok(self) -> bool:
        return self.pool_heartbeat_age is not None and self.pool_heartbeat_age <= settings.WORKER_HEARTBEAT_MAX_AGE


@dataclass
class PeriodicTaskFigures:
    name: str
    task: str
    expected_every: float  # seconds
    last_success_at: datetime | None

    @property
    def late(self) -> bool:
        # Twice its interval (a missed run plus slack) without a success.
        if self.last_success_at is None:
            return True
        return (timezone.now() - self.last_success_at).total_seconds() > 2 * self.expected_every


@dataclass
class WorkerFigures:
    hostname: str
    queues: str
    last_seen_at: datetime

    @property
    def gone(self) -> bool:
        # Two of its own heartbeats missed.
        return (timezone.now() - self.last_seen_at).total_seconds() > 2 * float(settings.WORKER_PRESENCE_SECONDS)


def workers_seen() -> list[WorkerFigures]:
    """Every worker heard of in the last day, by node name, running ones first."""
    rows = WorkerPresence.objects.order_by("hostname").values_list("hostname", "queues", "last_seen_at")
    workers = [WorkerFigures(hostname=h, queues=q, last_seen_at=at) for h, q, at in rows]
    return sorted(workers, key=lambda w: w.gone)


@dataclass
class ServiceHealth:
    local_authority: Organisation | None
    heartbeat_age: float | None  # seconds; None: no heartbeat (or Redis unreachable)
    channels: list[ChannelFigures]
    overdue_by_la: list[tuple[Organisation, int]]
    last_uploads: list[PlanUpload]
    periodic_tasks: list[PeriodicTaskFigures]
    audit_per_day: list[tuple[object, int]]
    workers: list[WorkerFigures] = field(default_factory=list)
    checked_at: datetime = field(default_factory=timezone.now)
    # The demo (`make run`, no broker) runs tasks in the web process by design: no worker,
    # pools or beat to report, so the page says so rather than showing them all as down.
    in_process: bool = False

    @property
    def worker_ok(self) -> bool:
        return self.heartbeat_age is not None and self.heartbeat_age <= settings.WORKER_HEARTBEAT_MAX_AGE

    @property
    def failed_total(self) -> int:
        return sum(c.failed for c in self.channels)


def pool_heartbeat_keys() -> dict[str, str]:
    """Each delivery channel's worker pool, by channel: the cache key its heartbeat writes
    (beat sends `pool_heartbeat` to each channel's queue; docker-compose.yml runs a pool per queue)."""
    return {channel: POOL_HEARTBEAT_KEY.format(delivery_queue(channel)) for channel in Channel.values}


def _channel_in_use(channel: str) -> bool:
    # MESH counts once it is configured: a service without MESH, and so without a MESH worker
    # pool, is not reported unhealthy for lacking one.
    return channel != Channel.MESH or mesh_enabled()


def healthz_pool_heartbeat_keys() -> dict[str, str]:
    """/healthz's pools: those of the channels this deployment delivers by."""
    return {channel: key for channel, key in pool_heartbeat_keys().items() if _channel_in_use(channel)}


def healthz_oldest_undelivered_ages() -> dict[str, float | None]:
    return {channel: age for channel, age in oldest_undelivered_ages().items() if _channel_in_use(channel)}


_WAITING = [DeliveryStatus.PENDING, DeliveryStatus.SENDING]


def oldest_undelivered_ages(*, deliveries: QuerySet[Delivery] | None = None) -> dict[str, float | None]:
    """Seconds since each channel's oldest undelivered (pending or being sent) delivery was
    written, by channel; None when none waits. One probe of delivery_waiting_age_idx per
    channel, so a public health check costs the same with a backlog of a million."""
    rows = Delivery.objects.all() if deliveries is None else deliveries
    now = timezone.now()
    ages: dict[str, float | None] = {}
    for channel in Channel.values:
        oldest = (
            rows.filter(channel=channel, status__in=_WAITING)
            .order_by("created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        ages[channel] = None if oldest is None else max(0.0, (now - oldest).total_seconds())
    return ages


def heartbeat_age(key: str = HEARTBEAT_KEY) -> float | None:
    from django.core.cache import cache

    if cache_breaker.is_open:
        return None
    try:
        beat = cache.get(key)
    except Exception as exc:  # noqa: BLE001 - Redis down: no heartbeat to show
        cache_breaker.failed(exc)
        return None
    return None if beat is None else max(0.0, time.time() - beat)


def _every(schedule: Any) -> float:
    if isinstance(schedule, crontab):
        return 24 * 3600.0  # our crontab jobs run daily
    return float(getattr(schedule, "total_seconds", lambda: schedule)())


def periodic_tasks() -> list[PeriodicTaskFigures]:
    runs = dict(PeriodicTaskRun.objects.values_list("task", "last_success_at"))
    schedule: dict[str, dict[str, Any]] = settings.CELERY_BEAT_SCHEDULE
    return [
        PeriodicTaskFigures(
            name=name,
            task=entry["task"],
            expected_every=_every(entry["schedule"]),
            last_success_at=runs.get(entry["task"]),
        )
        for name, entry in sorted(schedule.items())
        # The pools' heartbeats are shown with their channels (one task name for three queues).
        if entry["task"] != "operations.tasks.pool_heartbeat"
    ]


def _count_by_channel(deliveries: QuerySet[Delivery]) -> dict[str, int]:
    return dict(deliveries.order_by().values("channel").annotate(n=Count("id")).values_list("channel", "n"))


def service_health(*, local_authority: Organisation | None = None) -> ServiceHealth:
    """Everything at once (national admins), or one LA's share (its admins): the deliveries,
    overdue notifications, uploads and audit events of that LA only."""
    deliveries = Delivery.objects.all()
    notifications = Notification.objects.all()
    uploads = PlanUpload.objects.all()
    audit = AuditEvent.objects.all()
    if local_authority is not None:
        deliveries = deliveries.filter(notification__local_authority=local_authority)
        notifications = notifications.filter(local_authority=local_authority)
        uploads = uploads.filter(organisation=local_authority)
        audit = audit.filter(organisation=local_authority)

    # Two counts, each within one of the table's partial indexes (waiting, failed), rather than
    # one pass over every delivery ever made: /metrics asks this at every scrape.
    pending = _count_by_channel(deliveries.filter(status__in=_WAITING))
    failed = _count_by_channel(deliveries.filter(status=DeliveryStatus.FAILED))
    oldest = oldest_undelivered_ages(deliveries=deliveries)
    pools = pool_heartbeat_keys()
    channels = []
    for value, label in Channel.choices:
        channels.append(
            ChannelFigures(
                channel=value,
                label=label,
                pending=pending.get(value, 0),
                oldest_pending_age=oldest[value],
                failed=failed.get(value, 0),
                pool_heartbeat_age=heartbeat_age(pools[value]),
            )
        )

    overdue = dict(
        notifications.filter(status=NotificationStatus.NEW, overdue_since__isnull=False)
        .values_list("local_authority")
        .annotate(n=Count("id"))
    )
    las = Organisation.objects.in_bulk(list(overdue))
    overdue_by_la = sorted(((las[pk], n) for pk, n in overdue.items()), key=lambda item: item[0].name)

    # Ids grow with time: each LA's highest is its last upload.
    latest = uploads.values("organisation_id").annotate(last=Max("id")).values_list("last", flat=True)
    last_uploads = list(
        PlanUpload.objects.filter(pk__in=list(latest)).select_related("organisation").defer("content", "columns")
    )
    last_uploads.sort(key=lambda u: u.organisation.name)

    since = timezone.localdate() - timedelta(days=AUDIT_DAYS - 1)
    # From a moment, not `occurred_at__date`: a date of the column would read every partition
    # of the whole log rather than the last week's rows by the time index.
    per_day = (
        audit.filter(occurred_at__gte=day_start(since))
        .annotate(day=TruncDate("occurred_at"))
        .values_list("day")
        .annotate(n=Count("id"))
        .order_by("-day")
    )
    return ServiceHealth(
        local_authority=local_authority,
        heartbeat_age=heartbeat_age(),
        channels=channels,
        overdue_by_la=overdue_by_la,
        last_uploads=last_uploads,
        periodic_tasks=periodic_tasks(),
        audit_per_day=list(per_day),
        # Host names are the operators' business, not an LA's.
        workers=workers_seen() if local_authority is None else [],
        in_process=settings.IN_PROCESS_TASKS,
    )
