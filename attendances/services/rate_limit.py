"""The hourly limit of checks per user (CHECK_RATE_LIMIT_PER_HOUR): refused, audited, admins told."""

import logging
import smtplib
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Organisation, User
from audit.models import AuditAction, AuditEvent, AuditOutcome
from audit.services import audit_record

logger = logging.getLogger(__name__)


class CheckRateLimited(PermissionDenied):
    """The user made CHECK_RATE_LIMIT_PER_HOUR checks in the last hour: no more for now."""


# "This user reached the limit until <time>" (a Unix time): lets each later attempt be refused
# without counting the audit log again. Keyed by the limit, so changing it starts afresh.
_CHECK_LIMITED_KEY = "cpis:check-limited:{user}:{limit}"


def check_rate_guard(*, user: User, organisation: Organisation, request: HttpRequest | None, trace_id: str) -> None:
    """Refuses a check over the hourly limit, audits it, and tells the organisation's admins.

    Bulk look-ups are how an insider browses children (issue 12 finding 7). Counted from the
    audit log (audit_user_time_idx), so the limit holds across the web and the API, every
    process, and a Redis outage. The admins are told once per user per hour, never which
    children were looked up.

    The cost stays flat however many checks and refusals the user piles up (a soak found each
    check slower than the last): the count stops at `limit` rows, and once the user is over
    it, the moment their oldest counted check leaves the hour goes into the cache; until then
    the answer cannot change (refusals are not counted), so attempts are refused, and audited,
    without counting again. With Redis down it counts every time, as before.
    """
    limit = settings.CHECK_RATE_LIMIT_PER_HOUR
    if not limit:
        return
    now = timezone.now()
    since = now - timedelta(hours=1)
    mine = AuditEvent.objects.filter(user=user, occurred_at__gte=since)
    checks = mine.filter(action__in=(AuditAction.CHILD_CHECKED, AuditAction.CHILD_VIEWED_SILENTLY))
    key = _CHECK_LIMITED_KEY.format(user=user.pk, limit=limit)
    limited_until = _cache_call("get", key)
    if limited_until is not None and limited_until > now.timestamp():
        # Refused within the hour already, so the admins were told then.
        done, first = limit, False
    else:
        done = checks.order_by("occurred_at").values("pk")[:limit].count()
        if done < limit:
            return
        first = not mine.filter(action=AuditAction.CHECK_RATE_LIMITED).exists()
        oldest = checks.order_by("occurred_at").values_list("occurred_at", flat=True).first()
        if oldest is not None:
            until = oldest + timedelta(hours=1)
            _cache_call("set", key, until.timestamp(), max(1, int((until - now).total_seconds())))
    audit_record(
        action=AuditAction.CHECK_RATE_LIMITED,
        request=request,
        user=user,
        organisation=organisation,
        outcome=AuditOutcome.DENIED,
        trace_id=trace_id,
        detail={"limit": limit, "checks_last_hour": done, "admins_told": first},
    )
    if first:
        _check_rate_admins_tell(user=user, organisation=organisation, limit=limit)
    raise CheckRateLimited(
        f"You have checked {limit} children in the last hour, the most CP-IS allows. "
        "Your organisation's administrators have been told. Try again later, or ask them."
    )


def _cache_call(method: str, *args: object) -> Any:
    """The cache's `method`, or None when Redis is down (the breaker then spares the next
    checks the wait): the guard falls back on counting the audit log."""
    from django.core.cache import cache

    from cpis.resilience import cache_breaker

    if cache_breaker.is_open:
        return None
    try:
        return getattr(cache, method)(*args)
    except Exception as exc:  # noqa: BLE001 - any cache failure: count from the audit log instead
        cache_breaker.failed(exc)
        return None


def _check_rate_admins_tell(*, user: User, organisation: Organisation, limit: int) -> None:
    # Lazy: accounts.access imports the audit app, which this module's callers already load.
    from accounts.access import organisation_admins

    recipients = [admin.email for admin in organisation_admins(organisation)]
    if not recipients:
        return
    body = render_to_string(
        "emails/check_rate_limited.txt",
        {"organisation": organisation, "user_id": user.pk, "limit": limit, "site_url": settings.SITE_URL},
    )
    try:
        send_mail(
            subject="CP-IS: a user reached the hourly limit of checks",
            message=body,
            from_email=None,
            recipient_list=recipients,
        )
    except (OSError, smtplib.SMTPException):
        # The refusal is audited either way; the admins see it in the audit log.
        logger.warning("Check rate limit: the e-mail to organisation %s's admins failed", organisation.pk)
