"""Notifications to the local authority: one per attendance episode per LA, and their delivery.

The outbox: `notification_record_attendance` writes a `Delivery` row per channel in the check's
own transaction and asks, on commit, for the worker to send them. Everything after that is
at-least-once and idempotent: a delivery is claimed by one worker with a conditional UPDATE,
finished only by the claim that holds it, retried with back-off, and re-dispatched by the
sweeper if a message was never published (Redis down) or its worker died.
"""

import logging
import uuid
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Organisation, Role, User
from audit.models import AuditAction
from audit.services import audit_record
from cpis.resilience import broker_breaker
from notifications.models import Channel, Delivery, DeliveryStatus, Notification, NotificationStatus, WebhookEndpoint
from notifications.webhooks import WebhookError, webhook_body, webhook_post
from notifications.working_days import one_working_day_after

logger = logging.getLogger(__name__)

# Publishing must not hold up a clinician's check when Redis is down: two quick tries, then the
# sweeper's job.
_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.2}
# A retry message may arrive a moment before its `next_attempt_at` (clocks, rounding).
_DUE_TOLERANCE = timedelta(seconds=1)
_SWEEP_BATCH = 500


# PostgreSQL's one statement, because it runs inside every clinician's check: join each LA's current
# episode (its latest notification from this setting within the window), create a notification
# for each LA without one, and write the new notifications' outbox rows, a delivery per channel
# (the inbox always, e-mail if the LA has a team mailbox, the webhook if it has an active
# endpoint). It returns ("joined" | "created", notification id, LA id) and ("delivery",
# delivery id, notification id) rows. Only nullable columns are left out; the models' other
# defaults (status, counts, empty text) are written out here.
_RECORD_ATTENDANCE_SQL = """
WITH joined AS (
    UPDATE notifications_notification AS n
    SET attendance_count = n.attendance_count + 1,
        last_attended_at = GREATEST(n.last_attended_at, %(arrived_at)s)
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
        checked_by_role, created_at, due_at, status, acknowledgement_note
    )
    SELECT la.id, %(care_setting_id)s, %(nhs_number)s, la.family_name, la.given_names, la.date_of_birth,
           la.plan_types, %(arrived_at)s, %(arrived_at)s, 1, %(checked_by_name)s,
           %(checked_by_role)s, %(now)s, %(due_at)s, %(status_new)s, ''
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
    ) AS channel(name)
    RETURNING id, notification_id
)
SELECT 'joined', id, local_authority_id FROM joined
UNION ALL SELECT 'created', id, local_authority_id FROM created
UNION ALL SELECT 'delivery', id, notification_id FROM deliveries
"""


def notification_record_attendance(*, visit, plans) -> list[int]:
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
    outbox tests run against both.
    """
    assert transaction.get_connection().in_atomic_block, "call inside the check's transaction"
    by_la: dict[int, list] = {}
    for plan in plans:
        by_la.setdefault(plan.organisation_id, []).append(plan)
    record = _record_in_one_statement if connection.vendor == "postgresql" else _record_with_orm
    notification_by_la, delivery_ids = record(visit=visit, by_la=by_la, now=timezone.now())
    if delivery_ids:
        transaction.on_commit(partial(deliveries_hand_over, delivery_ids=sorted(delivery_ids)), robust=True)
    return [notification_by_la[la_id] for la_id in sorted(by_la)]


def notifications_flag_birth_date_mismatch(*, notification_ids: list[int], date_of_birth_entered) -> int:
    """Records on each notification whose child's date of birth differs from the one entered
    at the check. Kept out of the one-statement insert: a mismatch is rare, and this costs one
    UPDATE only then."""
    return (
        Notification.objects.filter(pk__in=notification_ids)
        .exclude(date_of_birth=date_of_birth_entered)
        .update(date_of_birth_entered=date_of_birth_entered)
    )


def _episode_window(visit) -> tuple:
    window = timedelta(hours=settings.NOTIFICATION_EPISODE_HOURS)
    return visit.arrived_at - window, visit.arrived_at + window


def _plan_types(plans) -> str:
    return ",".join(sorted({p.plan_type for p in plans}))


def _record_in_one_statement(*, visit, by_la: dict, now) -> tuple[dict[int, int], list[int]]:
    la_ids = sorted(by_la)
    subjects = [by_la[la_id][0] for la_id in la_ids]
    window_start, window_end = _episode_window(visit)
    with connection.cursor() as cursor:
        cursor.execute(
            _RECORD_ATTENDANCE_SQL,
            {
                "la_ids": la_ids,
                "nhs_number": visit.nhs_number,
                "care_setting_id": visit.care_setting_id,
                "arrived_at": visit.arrived_at,
                "window_start": window_start,
                "window_end": window_end,
                "family_names": [p.family_name for p in subjects],
                "given_names": [p.given_names for p in subjects],
                "dates_of_birth": [p.date_of_birth for p in subjects],
                "plan_types": [_plan_types(by_la[la_id]) for la_id in la_ids],
                "checked_by_name": visit.checked_by_name,
                "checked_by_role": visit.checked_by_role,
                "now": now,
                "due_at": one_working_day_after(now),
                "status_new": NotificationStatus.NEW,
                "status_pending": DeliveryStatus.PENDING,
                "inbox": Channel.INBOX,
                "email": Channel.EMAIL,
                "webhook": Channel.WEBHOOK,
                "email_la_ids": [p.organisation_id for p in subjects if p.organisation.team_mailbox],
            },
        )
        rows = cursor.fetchall()
    notification_by_la = {la_id: row_id for kind, row_id, la_id in rows if kind != "delivery"}
    return notification_by_la, [row_id for kind, row_id, _ in rows if kind == "delivery"]


def _record_with_orm(*, visit, by_la: dict, now) -> tuple[dict[int, int], list[int]]:
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
            plan_types=_plan_types(plans),
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
    with_webhook = set(
        WebhookEndpoint.objects.filter(local_authority_id__in=created, is_active=True).values_list(
            "local_authority_id", flat=True
        )
    )
    deliveries = [
        Delivery(notification=notification, channel=channel, next_attempt_at=now)
        for la_id, notification in created.items()
        for channel in (
            Channel.INBOX,
            *([Channel.EMAIL] if by_la[la_id][0].organisation.team_mailbox else []),
            *([Channel.WEBHOOK] if la_id in with_webhook else []),
        )
    ]
    Delivery.objects.bulk_create(deliveries)
    notification_by_la = {la_id: n.pk for la_id, n in (joined | created).items()}
    return notification_by_la, [d.pk for d in deliveries]


def deliveries_hand_over(*, delivery_ids: list[int]) -> None:
    """Publishes one message for a check's new deliveries; the worker fans it out to a task per
    delivery (`tasks.deliveries_fan_out`).

    Each publish costs the clinician's request about a millisecond, and one check can make four
    deliveries (inbox and e-mail at two LAs). Each delivery still gets its own task, so a slow
    webhook never holds up another LA's inbox. A failure to publish is logged, not raised: the
    rows are committed and the sweeper sends them.
    """
    from notifications.tasks import deliveries_fan_out

    if broker_breaker.is_open:
        # The broker failed a moment ago: another try would cost this check a socket timeout.
        logger.info("Broker recently unavailable; the sweeper will send %d delivery task(s)", len(delivery_ids))
        return
    try:
        # One try: in a clinician's request, a second would double the wait on a frozen broker.
        deliveries_fan_out.apply_async((delivery_ids,), retry=True, retry_policy={"max_retries": 0})
    except Exception as exc:  # noqa: BLE001 - any broker failure leaves the rows to the sweeper
        broker_breaker.failed(exc)
        logger.warning(
            "Could not publish %d delivery task(s), the sweeper will send them: %s: %s",
            len(delivery_ids),
            type(exc).__name__,
            exc,
        )


def delivery_queue(channel: str) -> str:
    """The Celery queue a channel's deliveries go to. Each channel has its own queue and its
    own worker pool (docker-compose.yml), so an LA's webhook endpoint that hangs for its whole
    timeout holds only webhook workers, never the inbox's."""
    return f"deliveries-{channel}"


def delivery_dispatch(*, delivery_ids: list[int], countdown: float | None = None) -> int:
    """Publishes a delivery task per id, to its channel's queue; returns how many were published.

    A failure to publish (Redis down) is logged, not raised: the outbox row is already
    committed, and the sweeper re-dispatches it once it has waited NOTIFICATION_SWEEP_AFTER.
    """
    from notifications.tasks import delivery_send

    channels = dict(Delivery.objects.filter(pk__in=delivery_ids).values_list("pk", "channel"))
    published = 0
    for delivery_id in delivery_ids:
        try:
            delivery_send.apply_async(
                (delivery_id,),
                countdown=countdown,
                queue=delivery_queue(channels.get(delivery_id, Channel.INBOX)),
                retry=True,
                retry_policy=_PUBLISH_RETRY_POLICY,
            )
            published += 1
        except Exception as exc:  # noqa: BLE001 - any broker failure leaves the row to the sweeper
            logger.warning(
                "Could not publish %d delivery task(s), the sweeper will send them: %s: %s",
                len(delivery_ids) - published,
                type(exc).__name__,
                exc,
            )
            break
    return published


def _retry_delay(attempts: int) -> float:
    base = settings.NOTIFICATION_RETRY_BASE_SECONDS
    return float(min(settings.NOTIFICATION_RETRY_MAX_SECONDS, base * 2 ** max(0, attempts - 1)))


def _claimable(now) -> Q:
    return Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now + _DUE_TOLERANCE)


def _claim(*, delivery: Delivery, now) -> tuple[uuid.UUID, list[int]]:
    """Claims this delivery (and, for e-mail, the LA's other due e-mail deliveries, so one
    message says "N new notifications"). Returns the claim token and the ids it holds.

    The claim is a conditional UPDATE (`WHERE status = 'pending' AND due`): of two workers
    given the same id, exactly one updates the row; the other sees 0 rows and stops.
    Attempts are counted here, at the claim, so a delivery that kills its worker every time
    still reaches FAILED instead of looping.
    """
    token = uuid.uuid4()
    claim = {"status": DeliveryStatus.SENDING, "claimed_at": now, "claim_token": token, "attempts": F("attempts") + 1}
    if delivery.channel != Channel.EMAIL:
        claimed = Delivery.objects.filter(_claimable(now), pk=delivery.pk).update(**claim)
        return token, [delivery.pk] if claimed else []
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                _claimable(now),
                channel=Channel.EMAIL,
                notification__local_authority_id=delivery.notification.local_authority_id,
            )
            .order_by("id")
            .values_list("pk", flat=True)[:200]
        )
        if delivery.pk not in ids:
            # Another worker's batch holds it (or it is not due, or it is done).
            return token, []
        Delivery.objects.filter(pk__in=ids).update(**claim)
    return token, ids


def _send_email(*, local_authority: Organisation, count: int, delivery_ids: list[int]) -> None:
    context = {
        "count": count,
        "local_authority_name": local_authority.name,
        "inbox_url": settings.SITE_URL.rstrip("/") + reverse("notifications:inbox"),
    }
    subject = render_to_string("emails/notifications_new_subject.txt", context).strip()
    body = render_to_string("emails/notifications_new_body.txt", context)
    message = EmailMessage(
        subject=subject,
        body=body,
        to=[local_authority.team_mailbox],
        # Ids only (no personal data): lets support trace a message back to its outbox rows.
        headers={"X-CPIS-Deliveries": ",".join(str(i) for i in delivery_ids)},
    )
    message.send(fail_silently=False)


def webhook_payload(*, notification: Notification, delivery_id: int) -> dict:
    """The webhook's JSON: the LA's own case-management system gets the full content."""
    setting = notification.care_setting
    return {
        "delivery_id": delivery_id,
        "notification_id": notification.pk,
        "local_authority_ods_code": notification.local_authority.ods_code,
        "child": {
            "nhs_number": notification.nhs_number,
            "family_name": notification.family_name,
            "given_names": notification.given_names,
            "date_of_birth": notification.date_of_birth.isoformat(),
        },
        "plan_types": notification.plan_type_list,
        "first_attended_at": notification.first_attended_at.isoformat(),
        "last_attended_at": notification.last_attended_at.isoformat(),
        "attendance_count": notification.attendance_count,
        "care_setting": {
            "name": setting.name,
            "ods_code": setting.ods_code,
            "type": setting.setting_type,
            "phone": setting.phone,
        },
        "checked_by": {"name": notification.checked_by_name, "role": notification.checked_by_role},
    }


def _send(*, delivery: Delivery, ids: list[int]) -> int | None:
    """Sends one claimed delivery (or e-mail batch) through its channel; raises on failure.
    Returns the webhook endpoint's HTTP status (None for the other channels)."""
    notification = delivery.notification
    if delivery.channel == Channel.INBOX:
        return None  # delivered by the finishing UPDATE itself, see `_finish_sent`
    if delivery.channel == Channel.EMAIL:
        _send_email(local_authority=notification.local_authority, count=len(ids), delivery_ids=ids)
        return None
    endpoint = WebhookEndpoint.objects.filter(local_authority_id=notification.local_authority_id).first()
    if endpoint is None or not endpoint.is_active:
        raise WebhookError("the LA has no active webhook endpoint")
    body = webhook_body(webhook_payload(notification=notification, delivery_id=delivery.pk))
    secrets = endpoint.signing_secrets()
    return webhook_post(
        url=endpoint.url,
        secret=secrets[0],
        previous_secret=secrets[1] if len(secrets) > 1 else "",
        delivery_id=delivery.pk,
        body=body,
    )


def _finish_sent(*, delivery: Delivery, ids: list[int], token: uuid.UUID, status: int | None = None) -> None:
    now = timezone.now()
    with transaction.atomic():
        finished = Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.SENDING, claim_token=token).update(
            status=DeliveryStatus.SENT, sent_at=now, last_error="", response_status=status
        )
        if delivery.channel == Channel.INBOX and finished:
            # Only the claim that finished the row delivers it: idempotent under redelivery.
            Notification.objects.filter(pk=delivery.notification_id, delivered_to_inbox_at__isnull=True).update(
                delivered_to_inbox_at=now
            )
    if finished < len(ids):
        # Our lease ran out and the sweeper handed the row to another worker, which will send
        # it again (the webhook receiver drops the repeat by its delivery id).
        logger.warning("Delivery claim lost before it finished: ids %s", ids)


def _finish_failed(*, ids: list[int], token: uuid.UUID, error: str, status: int | None = None) -> float | None:
    """Back to PENDING with back-off, or FAILED after the last attempt. Returns the delay
    before the next attempt, or None if none is due."""
    now = timezone.now()
    delay = None
    for row in Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.SENDING, claim_token=token):
        if row.attempts >= settings.NOTIFICATION_DELIVERY_MAX_ATTEMPTS:
            Delivery.objects.filter(pk=row.pk, claim_token=token).update(
                status=DeliveryStatus.FAILED,
                failed_at=now,
                last_error=error[:500],
                claim_token=None,
                response_status=status,
            )
            logger.error("Delivery %s failed after %s attempts: %s", row.pk, row.attempts, error)
            continue
        row_delay = _retry_delay(row.attempts)
        Delivery.objects.filter(pk=row.pk, claim_token=token).update(
            status=DeliveryStatus.PENDING,
            next_attempt_at=now + timedelta(seconds=row_delay),
            last_error=error[:500],
            claim_token=None,
            response_status=status,
        )
        delay = row_delay if delay is None else min(delay, row_delay)
    return delay


def delivery_attempt(*, delivery_id: int) -> float | None:
    """One attempt at one delivery: what the worker's task runs. Returns seconds until the next
    attempt if this one failed and another is due, else None.

    1. claim it (nothing to do if another worker holds it, or it is not due, or it is done);
    2. send it through its channel;
    3. mark it SENT, or PENDING with back-off, or FAILED after the last attempt.
    """
    delivery = (
        Delivery.objects.select_related("notification__local_authority", "notification__care_setting")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None:
        return None
    token, ids = _claim(delivery=delivery, now=timezone.now())
    if not ids:
        return None
    try:
        status = _send(delivery=delivery, ids=ids)
    except Exception as exc:  # noqa: BLE001 - any channel failure is retried, then recorded
        error = f"{type(exc).__name__}: {exc}"
        logger.warning("Delivery %s (%s) attempt failed: %s", delivery_id, delivery.channel, error)
        return _finish_failed(ids=ids, token=token, error=error, status=getattr(exc, "status", None))
    _finish_sent(delivery=delivery, ids=ids, token=token, status=status)
    return None


def delivery_sweep() -> list[int]:
    """Re-dispatches what is undelivered; returns the ids dispatched. Run by beat.

    1. lock a batch of stuck rows with `SELECT … FOR UPDATE SKIP LOCKED` (two sweepers, or a
       sweeper and a worker's claim, never wait on each other or take the same row):
       - PENDING and due for longer than NOTIFICATION_SWEEP_AFTER: its message was never
         published (Redis was down) or was lost;
       - SENDING with a claim older than NOTIFICATION_CLAIM_LEASE: its worker died mid-send;
    2. give a dead worker's row back (PENDING), or record it FAILED if that was its last
       attempt; restart each row's clock, so it is re-dispatched at most once per SWEEP_AFTER;
    3. on commit, publish a task per row (a repeat of a still-queued message is harmless:
       only one claim succeeds);
    4. while batches come back full, take the next, up to NOTIFICATION_SWEEP_MAX_PER_RUN rows:
       after an outage the backlog drains at up to that many rows per sweep interval, not
       one batch (see docs/performance.md, "Delivery").
    """
    now = timezone.now()
    dispatched: list[int] = []
    while len(dispatched) < settings.NOTIFICATION_SWEEP_MAX_PER_RUN:
        limit = min(_SWEEP_BATCH, settings.NOTIFICATION_SWEEP_MAX_PER_RUN - len(dispatched))
        found, ids = _sweep_batch(now=now, limit=limit)
        dispatched += ids
        if found < limit:
            break
    if dispatched:
        logger.info("Sweeper re-dispatched %d deliveries", len(dispatched))
    return dispatched


def _sweep_batch(*, now, limit: int) -> tuple[int, list[int]]:
    """One batch of the sweep, in its own transaction; returns how many rows it locked and the
    ids it re-dispatched. A row it re-dispatches starts its clock again, so a later batch of
    the same sweep never takes it."""
    stuck = Q(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now - timedelta(seconds=settings.NOTIFICATION_SWEEP_AFTER)
    )
    dead = Q(status=DeliveryStatus.SENDING, claimed_at__lt=now - timedelta(seconds=settings.NOTIFICATION_CLAIM_LEASE))
    with transaction.atomic():
        rows = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(stuck | dead)
            .order_by("next_attempt_at")
            .values_list("pk", "status", "attempts")[:limit]
        )
        exhausted = [
            pk
            for pk, status, attempts in rows
            if status == DeliveryStatus.SENDING and attempts >= settings.NOTIFICATION_DELIVERY_MAX_ATTEMPTS
        ]
        if exhausted:
            Delivery.objects.filter(pk__in=exhausted).update(
                status=DeliveryStatus.FAILED,
                failed_at=now,
                claim_token=None,
                last_error="The worker stopped during the last attempt.",
            )
            logger.error("Deliveries %s failed: the worker stopped during their last attempt", exhausted)
        revived = [pk for pk, status, _ in rows if status == DeliveryStatus.SENDING and pk not in exhausted]
        if revived:
            Delivery.objects.filter(pk__in=revived).update(
                status=DeliveryStatus.PENDING, claim_token=None, last_error="The worker stopped during delivery."
            )
        ids = [pk for pk, _, _ in rows if pk not in exhausted]
        if ids:
            Delivery.objects.filter(pk__in=ids).update(next_attempt_at=now)
            transaction.on_commit(partial(delivery_dispatch, delivery_ids=ids), robust=True)
    return len(rows), ids


def delivery_retry(*, delivery: Delivery, request) -> bool:
    """An admin's re-drive of a FAILED delivery: back to PENDING with fresh attempts."""
    with transaction.atomic():
        retried = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.FAILED).update(
            status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), failed_at=None
        )
        if retried:
            audit_record(
                action=AuditAction.NOTIFICATION_DELIVERY_RETRIED,
                request=request,
                detail={"delivery_id": delivery.pk, "notification_id": delivery.notification_id},
            )
            transaction.on_commit(partial(delivery_dispatch, delivery_ids=[delivery.pk]), robust=True)
    return bool(retried)


def social_workers_of(local_authority) -> list[User]:
    """Who a notification can be assigned to: the LA's active social workers, by name."""
    return list(
        User.objects.filter(
            is_active=True,
            memberships__organisation=local_authority,
            memberships__role=Role.SOCIAL_WORKER,
        )
        .distinct()
        .order_by("full_name", "pk")
    )


def notification_assign(*, notification: Notification, user: User, request) -> None:
    if not user.memberships.filter(organisation_id=notification.local_authority_id, role=Role.SOCIAL_WORKER).exists():
        # The view offers only the LA's social workers; this stops a forged id all the same.
        raise PermissionDenied("A notification is assigned only to a social worker of its local authority.")
    with transaction.atomic():
        Notification.objects.filter(pk=notification.pk).update(assigned_to=user)
        audit_record(
            action=AuditAction.NOTIFICATION_ASSIGNED,
            request=request,
            nhs_number=notification.nhs_number,
            detail={"notification_id": notification.pk, "assigned_to": user.pk},
        )
    notification.assigned_to = user


def notification_acknowledge(*, notification: Notification, user: User, note: str, request) -> bool:
    """Acknowledges a NEW notification with a note; False if someone already had (a double
    submit, or a colleague first), in which case nothing changes."""
    now = timezone.now()
    with transaction.atomic():
        done = Notification.objects.filter(pk=notification.pk, status=NotificationStatus.NEW).update(
            status=NotificationStatus.ACKNOWLEDGED,
            acknowledged_by=user,
            acknowledged_at=now,
            acknowledgement_note=note,
        )
        if done:
            audit_record(
                action=AuditAction.NOTIFICATION_ACKNOWLEDGED,
                request=request,
                nhs_number=notification.nhs_number,
                detail={"notification_id": notification.pk},
            )
    notification.refresh_from_db()
    return bool(done)


def notifications_mark_overdue() -> dict[int, int]:
    """Marks NEW notifications past their due time as overdue, once each, and e-mails each
    LA's admins how many (no personal data). Returns {LA id: count}. Run by beat.

    One transaction per LA: if the reminder cannot be sent, the marking rolls back and the
    next run tries again, so no LA's reminder is silently skipped.
    """
    now = timezone.now()
    due = Notification.objects.filter(
        status=NotificationStatus.NEW, overdue_since__isnull=True, due_at__lte=now, delivered_to_inbox_at__isnull=False
    )
    result = {}
    for la_id in sorted(set(due.values_list("local_authority_id", flat=True))):
        try:
            with transaction.atomic():
                ids = list(
                    due.filter(local_authority_id=la_id)
                    .select_for_update(skip_locked=True)
                    .values_list("pk", flat=True)
                )
                if not ids:
                    continue
                Notification.objects.filter(pk__in=ids).update(overdue_since=now)
                local_authority = Organisation.objects.get(pk=la_id)
                _send_overdue_reminder(local_authority=local_authority, count=len(ids))
        except Exception:
            # One LA's mail failure must not stop the others' reminders; this LA's rolls back.
            logger.exception("Overdue reminder for LA %s not sent; will try again next run", la_id)
            continue
        result[la_id] = len(ids)
    return result


def _send_overdue_reminder(*, local_authority: Organisation, count: int) -> None:
    admins = list(
        User.objects.filter(is_active=True, memberships__organisation=local_authority, memberships__role=Role.ORG_ADMIN)
        .distinct()
        .values_list("email", flat=True)
    )
    recipients = admins or ([local_authority.team_mailbox] if local_authority.team_mailbox else [])
    if not recipients:
        logger.error(
            "No admin or team mailbox to remind about %d overdue notifications at LA %s", count, local_authority.pk
        )
        return
    context = {
        "count": count,
        "local_authority_name": local_authority.name,
        "inbox_url": settings.SITE_URL.rstrip("/") + reverse("notifications:inbox") + "?status=overdue",
    }
    subject = render_to_string("emails/notifications_overdue_subject.txt", context).strip()
    body = render_to_string("emails/notifications_overdue_body.txt", context)
    # One message each, so no admin learns the others' addresses.
    messages = [EmailMessage(subject=subject, body=body, to=[address]) for address in recipients]
    get_connection(fail_silently=False).send_messages(messages)
