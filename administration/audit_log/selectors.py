"""Reads of the audit log for the viewer, scoped to who is looking."""

import datetime as dt

from django.db.models import Q, QuerySet

from accounts.models import Membership, Organisation, Role
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


def audit_events_search(events: QuerySet[AuditEvent], criteria: dict) -> QuerySet[AuditEvent]:
    if criteria.get("user"):
        text = criteria["user"]
        events = events.filter(Q(user__email__iexact=text) | Q(user__full_name__icontains=text))
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
