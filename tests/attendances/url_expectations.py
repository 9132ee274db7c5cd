from django.utils import timezone

from notifications.models import Notification
from tests.factories import PlanFactory
from tests.url_permissions import Expect


def _plan_of(world, persona, own):
    # A visible plan held by the persona's LA (own) or by the other LA (other).
    plan = PlanFactory(organisation=world.la if own else world.other_la)
    return {"plan_id": plan.pk}


def _notification_of(world, persona, own):
    # A notification to the persona's LA (own) or to the other LA (other), about a child that
    # LA holds a visible plan for.
    la = world.la if own else world.other_la
    plan = PlanFactory(organisation=la)
    notification = Notification.objects.create(
        local_authority=la,
        care_setting=world.care_setting,
        nhs_number=plan.nhs_number,
        family_name=plan.family_name,
        given_names=plan.given_names,
        date_of_birth=plan.date_of_birth,
        plan_types=plan.plan_type,
        first_attended_at=timezone.now(),
        last_attended_at=timezone.now(),
        checked_by_name="Dr Test",
        checked_by_role="clinician",
        # In the inbox, where a social worker opens it from.
        delivered_to_inbox_at=timezone.now(),
    )
    return {"notification_id": notification.pk}


EXPECTATIONS = [
    # Check a child: clinicians and safeguarding leads at a care setting; the gate stops the untrained.
    Expect("attendances:check", statuses={"clinician": 200, "safeguarding_lead": 200}),
    # The checker's own checks of today (child data: the gate stops the untrained).
    Expect("attendances:checks_today", statuses={"clinician": 200, "safeguarding_lead": 200}),
    # View without notifying: safeguarding leads only.
    Expect("attendances:view_silently", statuses={"safeguarding_lead": 200}),
    # The LA's child view: its social workers only, and only for its own children.
    Expect("attendances:child_find", statuses={"social_worker": 200}),
    Expect(
        "attendances:child_for_plan",
        statuses={"social_worker": 200},
        kwargs=_plan_of,
        other_statuses={"social_worker": 404},
        other_default=403,
    ),
    Expect(
        "attendances:child_for_notification",
        statuses={"social_worker": 200},
        kwargs=_notification_of,
        other_statuses={"social_worker": 404},
        other_default=403,
    ),
]
