"""Reads of the audit log for the viewer, scoped to who is looking."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from accounts.models import Membership, Organisation, Role, User
from audit.models import AuditEvent
from core.dates import EARLIEST_DATE, LATEST_DATE, day_start


def audit_events_visible_to(*, roles: frozenset[str], organisation: Organisation | None) -> QuerySet[AuditEvent]:
    """National admins: every event. Org admins: their organisation's events.

    An org admin's view holds events at their organisation, plus events with no organisation
    (sign-ins, system actions such as locking) done by or about one of its users. It never holds
    what a shared user did while working for another organisation.
    """
    events = AuditEvent.objects.select_related("user", "organisation")
    if Role.NATIONAL_ADMIN in roles:
        return events
    if Role.ORG_ADMIN not in roles or organisation is None:
        return events.none()
    member_ids = list(Membership.objects.filter(organisation=organisation).values_list("user_id", flat=True).distinct())
    return events.filter(
        Q(organisation=organisation)
        | Q(organisation__isnull=True, user_id__in=member_ids)
        | Q(organisation__isnull=True, detail__subject_user_id__in=member_ids)
    )


# A name search matching more people than this is too broad to be an audit question.
USERS_SEARCHED = 500


def audit_events_search(events: QuerySet[AuditEvent], criteria: dict) -> QuerySet[AuditEvent]:
    if criteria.get("user"):
        text = criteria["user"]
        # The people first (a small table), then their events through the (user, time) index: a
        # join would let the planner walk the whole log newest first looking for them.
        matching = User.objects.filter(Q(email__iexact=text) | Q(full_name__icontains=text))
        events = events.filter(user_id__in=list(matching.values_list("pk", flat=True)[:USERS_SEARCHED]))
    if criteria.get("nhs_number"):
        events = events.filter(nhs_number=criteria["nhs_number"])
    if criteria.get("organisation"):
        events = events.filter(organisation__ods_code=criteria["organisation"])
    if criteria.get("action"):
        events = events.filter(action=criteria["action"])
    start, end = _stored_date(criteria.get("date_from")), _stored_date(criteria.get("date_to"))
    if start:
        events = events.filter(occurred_at__gte=day_start(start))
    if end:
        # Inclusive of the whole 'to' day, in UK time.
        events = events.filter(occurred_at__lt=day_start(end + dt.timedelta(days=1)))
    return events


def _stored_date(value) -> dt.date | None:
    """A date from a search kept in the session. A search saved before the form's date range
    existed (or tampered with) is ignored rather than answered with a 500 on every page."""
    try:
        day = dt.date.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None
    return day if day and EARLIEST_DATE <= day <= LATEST_DATE else None


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class Position:
    """Where a page starts or ends: an event's time and id, the log's order (newest first)."""

    occurred_at: dt.datetime
    id: int

    def token(self) -> str:
        """For the URL: a time and an id, nothing about anyone. Whole microseconds, counted in
        integers: a float timestamp would round some times a microsecond off, and the page
        after them would skip or repeat events."""
        return f"{(self.occurred_at - _EPOCH) // _MICROSECOND}.{self.id}"

    @classmethod
    def parse(cls, token: str | None) -> "Position | None":
        """A position from the URL, or None for anything else (the newest page, not a 500)."""
        try:
            micros, pk = (int(part) for part in (token or "").split("."))
            return cls(_EPOCH + micros * _MICROSECOND, pk)
        except (TypeError, ValueError, OverflowError, OSError):
            return None


@dataclass(frozen=True)
class EventsPage:
    object_list: list
    newer: Position | None  # where the newer page ends, if there is one
    older: Position | None  # where the older page starts, if there is one


def audit_events_page(
    events: QuerySet[AuditEvent], *, older_than: Position | None = None, newer_than: Position | None = None, size: int
) -> EventsPage:
    """One page of `size` events, newest first, found from a position rather than counted to:
    at 20,000,000 events an OFFSET or a COUNT(*) reads every row before the page, this reads
    the page (one more row says whether there is another)."""
    if newer_than is not None:
        rows = list(
            events.filter(occurred_at__gte=newer_than.occurred_at)
            .filter(Q(occurred_at__gt=newer_than.occurred_at) | Q(id__gt=newer_than.id))
            .order_by("occurred_at", "id")[: size + 1]
        )
        more, rows = len(rows) > size, rows[:size][::-1]
        return EventsPage(rows, newer=_position(rows[0]) if more and rows else None, older=_end(rows, newer_than))
    if older_than is not None:
        events = events.filter(occurred_at__lte=older_than.occurred_at).filter(
            Q(occurred_at__lt=older_than.occurred_at) | Q(id__lt=older_than.id)
        )
    rows = list(events.order_by("-occurred_at", "-id")[: size + 1])
    more, rows = len(rows) > size, rows[:size]
    return EventsPage(
        rows,
        newer=_position(rows[0]) if older_than is not None and rows else None,
        older=_position(rows[-1]) if more else None,
    )


def _position(event: AuditEvent) -> Position:
    return Position(event.occurred_at, event.pk)


def _end(rows: list, newer_than: Position) -> Position:
    # A newer page always has an older one: the event it was asked to be newer than.
    return _position(rows[-1]) if rows else Position(newer_than.occurred_at, newer_than.id + 1)
