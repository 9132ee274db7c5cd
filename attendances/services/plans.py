"""The order a child's plans are shown in, by the check, the LA's view and the checker's day."""

from collections.abc import Iterable

from django.utils import timezone

from plans.models import Plan, PlanType

# A child on a plan first, then looked after, then unborn.
_PLAN_ORDER = {PlanType.CPP: 0, PlanType.LAC: 1, PlanType.UCPP: 2}


def plans_sorted(plans: Iterable[Plan]) -> list[Plan]:
    # Open plans before ended ones: what is true now is read first.
    today = timezone.localdate()
    return sorted(
        plans,
        key=lambda p: (
            p.is_ended(today=today),
            _PLAN_ORDER.get(PlanType(p.plan_type), 9),
            p.organisation.name,
            p.start_date,
        ),
    )
