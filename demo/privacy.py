"""Demo audit history for `manage.py seed_demo` in which two access-pattern rules fire at the
ED (RDE01), so its privacy officer has alerts to triage (issue 29).

The ED's clinician has a fortnight of ordinary checks (children with no plan, in daytime hours
away from now); in the last hour they checked a child they had looked up twice before on
other days: `repeat_child` and `unusual_hours` fire when the scan reads it. Running it again
changes nothing (its events carry the trace id `seed_demo_privacy`).
"""

from datetime import datetime, timedelta

from django.utils import timezone

from accounts.models import Organisation, Role, User
from audit.models import AuditAction, AuditEvent, AuditOutcome
from core.nhs_numbers import nhs_test_numbers
from privacy.services import alerts_scan

_TRACE_ID = "seed_demo_privacy"
_CLINICIAN = "clinician@demo.example"
# Past the demo plans' numbers (prefix 9999): these children are on no plan.
_PREFIX = "99980"


def _event(user: User, organisation: Organisation, at: datetime, nhs_number: str) -> AuditEvent:
    return AuditEvent(
        occurred_at=at,
        user=user,
        organisation=organisation,
        roles=Role.CLINICIAN,
        action=AuditAction.CHILD_CHECKED,
        nhs_number=nhs_number,
        outcome=AuditOutcome.SUCCESS,
        trace_id=_TRACE_ID,
        detail={"plan_ids": [], "visit_id": None, "notification_ids": [], "dob_mismatch": False},
    )


def seed_privacy_demo() -> int:
    """Writes the history and runs the scan; returns the alerts it raised (0 on a second run)."""
    if AuditEvent.objects.filter(trace_id=_TRACE_ID).exists():
        return 0
    user = User.objects.filter(email=_CLINICIAN).first()
    organisation = Organisation.objects.filter(ods_code="RDE01").first()
    if user is None or organisation is None:
        return 0
    now = timezone.localtime()
    odd = now - timedelta(hours=1)
    numbers = nhs_test_numbers(prefix=_PREFIX)
    watched = next(numbers)
    events = []
    for days_ago in range(2, 16):
        day = (now - timedelta(days=days_ago)).replace(minute=5, second=0, microsecond=0)
        # Six to ten hours away from the last hour's check, so that hour is not a usual one.
        for offset in (6, 8, 10):
            events.append(_event(user, organisation, day.replace(hour=(odd.hour + offset) % 24), next(numbers)))
        if days_ago in (3, 7):
            events.append(_event(user, organisation, day.replace(hour=(odd.hour + 7) % 24), watched))
    events.append(_event(user, organisation, odd, watched))
    AuditEvent.objects.bulk_create(events)
    return alerts_scan(now=now + timedelta(minutes=5))
