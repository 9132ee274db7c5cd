"""The outbox's writing side: a check creates or joins one notification per LA, and writes a
`Delivery` row per channel in the check's own transaction, handed to the worker on commit."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any, Protocol

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from mesh.client import mesh_enabled
from mesh.models import MeshMailbox
from notifications.models import Channel, Delivery, DeliveryStatus, Notification, NotificationStatus, WebhookEndpoint
from notifications.services.fan_out import deliveries_hand_over
from notifications.working_days import one_working_day_after
from plans.models import Plan


class AttendedVisit(Protocol):
    """What the outbox reads of a visit (attendances' `Visit`; attendances depends on
    notifications, not the other way)."""

    nhs_number: str
    care_setting_id: int
    arrived_at: datetime
    checked_by_name: str
    checked_by_role: str


# PostgreSQL's one statement, because it runs inside every clinician's check: join each LA's current
# episode (its latest notification from this setting within the window), create a notification
# for each LA without one, and write the new notifications' outbox rows, a delivery per channel
# (the inbox always, e-mail if the LA has a team mailbox, the webhook if it has an active
# endpoint, MESH if MESH is on and the LA has a mailbox). It returns ("joined" | "created", notification id, LA id) and ("delivery",
# delivery id, notification id) rows. Only nullable columns are left out; the models' other
# defaults (status, counts, empty text) are written out here. The check puts these parts into
# its own one statement, beside the visit and the audit event (`AttendanceStatement`), and
# then flags a date of birth that differs here too, as `notifications_flag_birth_date_mismatch`
# does (a NULL `date_of_birth_entered` flags nothing; tests/attendances/test_check_write.py).
_ATTENDANCE_CTES = """
joined AS (
    UPDATE notifications_notification AS n
    SET attendance_count = n.attendance_count + 1,
        last_attended_at = GREATEST(n.last_attended_at, %(arrived_at)s),
        date_of_birth_entered = CASE WHEN n.date_of_birth <> %(date_of_birth_entered)s::date
            THEN %(date_of_birth_entered)s::date ELSE n.date_of_birth_entered END
    WHERE n.id IN (
        SELECT DISTINCT ON (local_authority_id) id
        FROM notifications_notification
        WHERE local_authority_id = ANY(%(la_ids)s)
          AND nhs_number = %(nhs_number)s
          AND care_setting_id = %(care_setting_id)s
          AND last_attended_at >= %(window_start)s
          AND first_attended_at <= %(window_end)s
        ORDER BY local_authority_id, last_attended_at DESC
    )
    RETURNING n.id, n.local_authority_id
),
created AS (
    INSERT INTO notifications_notification (
        local_authority_id, care_setting_id, nhs_number, family_name, given_names, date_of_birth,
        plan_types, first_attended_at, last_attended_at, attendance_count, checked_by_name,
        checked_by_role, created_at, due_at, status, acknowledgement_note, date_of_birth_entered
    )
    SELECT la.id, %(care_setting_id)s, %(nhs_number)s, la.family_name, la.given_names, la.date_of_birth,
           la.plan_types, %(arrived_at)s, %(arrived_at)s, 1, %(checked_by_name)s,
           %(checked_by_role)s, %(now)s, %(due_at)s, %(status_new)s, '',
           CASE WHEN la.date_of_birth <> %(date_of_birth_entered)s::date THEN %(date_of_birth_entered)s::date END
    FROM unnest(%(la_ids)s::bigint[], %(family_names)s::text[], %(given_names)s::text[],
                %(dates_of_birth)s::date[], %(plan_types)s::text[])
         AS la(id, family_name, given_names, date_of_birth, plan_types)
    WHERE la.id NOT IN (SELECT local_authority_id FROM joined)
    RETURNING id, local_authority_id
),
deliveries AS (
    INSERT INTO notifications_delivery (
        notification_id, channel, status, attempts, next_attempt_at, last_error, created_at
    )
    SELECT created.id, channel.name, %(status_pending)s, 0, %(now)s, '', %(now)s
    FROM created
    CROSS JOIN LATERAL (
        SELECT %(inbox)s::text
        UNION ALL
        SELECT %(email)s WHERE created.local_authority_id = ANY(%(email_la_ids)s)
        UNION ALL
        SELECT %(webhook)s WHERE EXISTS (
            SELECT 1 FROM notifications_webhookendpoint AS endpoint
            WHERE endpoint.local_authority_id = created.local_authority_id AND endpoint.is_active
        )
        UNION ALL
        SELECT %(mesh)s WHERE %(mesh_enabled)s AND EXISTS (
            SELECT 1 FROM mesh_meshmailbox AS mailbox WHERE mailbox.local_authority_id = created.local_authority_id
        )
    ) AS channel(name)
    RETURNING id, notification_id
)
"""
_ATTENDANCE_ROWS = """
SELECT 'joined', id, local_authority_id FROM joined
UNION ALL SELECT 'created', id, local_authority_id FROM created
UNION ALL SELECT 'delivery', id, notification_id FROM deliveries
"""
_RECORD_ATTENDANCE_SQL = f"WITH {_ATTENDANCE_CTES}{_ATTENDANCE_ROWS}"


def notification_record_attendance(*, visit: AttendedVisit, plans: Iterable[Plan]) -> list[int]:
    """Creates or joins one notification per responsible LA for this visit; returns their ids
    in LA order.

    Must run inside the transaction that records the visit (the check journey's), so the
    notification and its outbox rows exist if and only if the visit does.

    The caller holds the child's lock for the whole transaction (`child_check` takes it), so two
    simultaneous checks at one setting join one notification instead of racing to create two.

    1. per LA among `plans` (the child's visible plans), find a notification from the same
       care setting whose last attendance is within the episode window: join it (count + 1,
       latest time; already delivered, so nothing new is sent), or else create a new one with
       the content copied from the plans;
    2. for a new notification, write a PENDING delivery per channel the LA has (inbox always,
       e-mail if it has a team mailbox, webhook if it has an active endpoint);
    3. on commit, hand the new rows to the worker (`deliveries_hand_over`). If publishing
       fails the check still succeeds: the rows are in the database and the sweeper sends them.

    On PostgreSQL steps 1 and 2 are one statement (`_RECORD_ATTENDANCE_SQL`), a third of the
    time of the ORM's four. The ORM's version keeps the SQLite demo (`make run`) working; the
    outbox tests run against both. The check itself runs the same parts inside its own one
    statement, with the visit and the audit event (`notification_attendance_statement`).
    """
    assert transaction.get_connection().in_atomic_block, "call inside the check's transaction"
    by_la = _plans_by_la(plans)
    record = _record_in_one_statement if connection.vendor == "postgresql" else _record_with_orm
    notification_by_la, delivery_ids = record(visit=visit, by_la=by_la, now=timezone.now())
    return _recorded(la_ids=sorted(by_la), notification_by_la=notification_by_la, delivery_ids=delivery_ids)


@dataclass(frozen=True)
class AttendanceStatement:
    """`notification_record_attendance` on PostgreSQL as parts of a larger statement (the
    check's one statement, with its visit and audit event): `ctes`, to follow a `WITH`, defines
    `joined` and `created` (id, local_authority_id: each LA's notification) and `deliveries`
    (id, notification_id); `rows` is the SELECT of their (kind, id, id) rows; `recorded` reads
    those rows back, asks for the deliveries on commit and returns the notification ids in
    LA order, as `notification_record_attendance` does. Same transaction rule and lock."""

    ctes: str
    rows: str
    params: dict[str, Any]
    la_ids: list[int]

    def recorded(self, rows: Iterable[tuple[str, int, int | None]]) -> list[int]:
        notification_by_la, delivery_ids = _rows_read(rows)
        return _recorded(la_ids=self.la_ids, notification_by_la=notification_by_la, delivery_ids=delivery_ids)


def notification_attendance_statement(
    *, visit: AttendedVisit, plans: Iterable[Plan], date_of_birth_entered: date | None = None
) -> AttendanceStatement:
    """The parts of PostgreSQL's one statement for `notification_record_attendance`, for a
    caller that runs them with its own writes (`AttendanceStatement`). The visit need not be
    saved yet: only its time, setting and checker are read. With `date_of_birth_entered`,
    also what `notifications_flag_birth_date_mismatch` would then do."""
    assert connection.vendor == "postgresql", "the ORM's way is notification_record_attendance"
    by_la = _plans_by_la(plans)
    return AttendanceStatement(
        ctes=_ATTENDANCE_CTES,
        rows=_ATTENDANCE_ROWS,
        params=_statement_params(
            visit=visit, by_la=by_la, now=timezone.now(), date_of_birth_entered=date_of_birth_entered
        ),
        la_ids=sorted(by_la),
    )


def _plans_by_la(plans: Iterable[Plan]) -> dict[int, list[Plan]]:
    by_la: dict[int, list[Plan]] = {}
    for plan in plans:
        by_la.setdefault(plan.organisation_id, []).append(plan)
    return by_la


def _recorded(*, la_ids: list[int], notification_by_la: dict[int, int], delivery_ids: list[int]) -> list[int]:
    if delivery_ids:
        transaction.on_commit(partial(deliveries_hand_over, delivery_ids=sorted(delivery_ids)), robust=True)
    return [notification_by_la[la_id] for la_id in la_ids]


def notifications_flag_birth_date_mismatch(*, notification_ids: list[int], date_of_birth_entered: date | None) -> int:
    """Records on each notification whose child's date of birth differs from the one entered
    at the check: the ORM's way (SQLite). On PostgreSQL the check's one statement does the same
    in `_ATTENDANCE_CTES`, held to this by tests/attendances/test_check_write.py."""
    return (
        Notification.objects.filter(pk__in=notification_ids)
        .exclude(date_of_birth=date_of_birth_entered)
        .update(date_of_birth_entered=date_of_birth_entered)
    )


def _episode_window(visit: AttendedVisit) -> tuple[datetime, datetime]:
    window = timedelta(hours=settings.NOTIFICATION_EPISODE_HOURS)
    return visit.arrived_at - window, visit.arrived_at + window


def plan_types_joined(plans: Iterable[Plan]) -> str:
    """A notification's plan types: each type among the LA's plans once, in order."""
    return ",".join(sorted({p.plan_type for p in plans}))


def _record_in_one_statement(
    *, visit: AttendedVisit, by_la: dict[int, list[Plan]], now: datetime
) -> tuple[dict[int, int], list[int]]:
    with connection.cursor() as cursor:
        cursor.execute(_RECORD_ATTENDANCE_SQL, _statement_params(visit=visit, by_la=by_la, now=now))
        return _rows_read(cursor.fetchall())


def _statement_params(
    *, visit: AttendedVisit, by_la: dict[int, list[Plan]], now: datetime, date_of_birth_entered: date | None = None
) -> dict[str, Any]:
    la_ids = sorted(by_la)
    subjects = [by_la[la_id][0] for la_id in la_ids]
    window_start, window_end = _episode_window(visit)
    return {
        "la_ids": la_ids,
        "nhs_number": visit.nhs_number,
        "care_setting_id": visit.care_setting_id,
        "arrived_at": visit.arrived_at,
        "window_start": window_start,
        "window_end": window_end,
        "family_names": [p.family_name for p in subjects],
        "given_names": [p.given_names for p in subjects],
        "dates_of_birth": [p.date_of_birth for p in subjects],
        "plan_types": [plan_types_joined(by_la[la_id]) for la_id in la_ids],
        "checked_by_name": visit.checked_by_name,
        "checked_by_role": visit.checked_by_role,
        "now": now,
        "due_at": one_working_day_after(now),
        "status_new": NotificationStatus.NEW,
        "status_pending": DeliveryStatus.PENDING,
        "inbox": Channel.INBOX,
        "email": Channel.EMAIL,
        "webhook": Channel.WEBHOOK,
        "mesh": Channel.MESH,
        "mesh_enabled": mesh_enabled(),
        "email_la_ids": [p.organisation_id for p in subjects if p.organisation.team_mailbox],
        "date_of_birth_entered": date_of_birth_entered,
    }


def _rows_read(rows: Iterable[tuple[str, int, int | None]]) -> tuple[dict[int, int], list[int]]:
    """The statement's rows as (notification id by LA, delivery ids); rows of other kinds (a
    larger statement's own) are not the outbox's."""
    notification_by_la: dict[int, int] = {}
    delivery_ids: list[int] = []
    for kind, row_id, other_id in rows:
        if kind in ("joined", "created") and other_id is not None:
            notification_by_la[other_id] = row_id
        elif kind == "delivery":
            delivery_ids.append(row_id)
    return notification_by_la, delivery_ids


def _record_with_orm(
    *, visit: AttendedVisit, by_la: dict[int, list[Plan]], now: datetime
) -> tuple[dict[int, int], list[int]]:
    window_start, window_end = _episode_window(visit)
    episodes = (
        Notification.objects.select_for_update()
        .filter(
            local_authority_id__in=by_la,
            nhs_number=visit.nhs_number,
            care_setting_id=visit.care_setting_id,
            last_attended_at__gte=window_start,
            first_attended_at__lte=window_end,
        )
        .order_by("local_authority_id", "-last_attended_at")
    )
    joined: dict[int, Notification] = {}
    for episode in episodes:
        joined.setdefault(episode.local_authority_id, episode)  # the LA's latest episode
    for notification in joined.values():
        notification.attendance_count += 1
        notification.last_attended_at = max(notification.last_attended_at, visit.arrived_at)
        notification.save(update_fields=["attendance_count", "last_attended_at"])
    due_at = one_working_day_after(now)
    created = {
        la_id: Notification(
            local_authority_id=la_id,
            care_setting_id=visit.care_setting_id,
            nhs_number=visit.nhs_number,
            family_name=plans[0].family_name,
            given_names=plans[0].given_names,
            date_of_birth=plans[0].date_of_birth,
            plan_types=plan_types_joined(plans),
            first_attended_at=visit.arrived_at,
            last_attended_at=visit.arrived_at,
            checked_by_name=visit.checked_by_name,
            checked_by_role=visit.checked_by_role,
            created_at=now,
            due_at=due_at,
        )
        for la_id, plans in by_la.items()
        if la_id not in joined
    }
    Notification.objects.bulk_create(created.values())
    delivery_ids = outbox_rows_write(
        notification_by_la=created,
        with_mailbox={la_id for la_id, plans in by_la.items() if plans[0].organisation.team_mailbox},
        now=now,
    )
    notification_by_la = {la_id: n.pk for la_id, n in (joined | created).items()}
    return notification_by_la, delivery_ids


def outbox_rows_write(
    *, notification_by_la: dict[int, Notification], with_mailbox: set[int], now: datetime
) -> list[int]:
    """Writes a PENDING delivery per channel for each new notification, keyed by its LA, and
    returns their ids. The one choice of channels for every kind of notification: the inbox
    always, e-mail if the LA has a team mailbox (`with_mailbox`), the webhook if it has an
    active endpoint, MESH if it is on and the LA has a mailbox. `_RECORD_ATTENDANCE_SQL` makes the same choice in SQL; the outbox tests
    hold the two to it."""
    with_webhook = set(
        WebhookEndpoint.objects.filter(local_authority_id__in=notification_by_la, is_active=True).values_list(
            "local_authority_id", flat=True
        )
    )
    with_mesh = (
        set(
            MeshMailbox.objects.filter(local_authority_id__in=notification_by_la).values_list(
                "local_authority_id", flat=True
            )
        )
        if mesh_enabled()
        else set()
    )
    deliveries = [
        Delivery(notification=notification, channel=channel, next_attempt_at=now)
        for la_id, notification in notification_by_la.items()
        for channel in (
            Channel.INBOX,
            *([Channel.EMAIL] if la_id in with_mailbox else []),
            *([Channel.WEBHOOK] if la_id in with_webhook else []),
            *([Channel.MESH] if la_id in with_mesh else []),
        )
    ]
    Delivery.objects.bulk_create(deliveries)
    return [d.pk for d in deliveries]
