from tests.factories import PlanFactory
from tests.url_permissions import Expect


def _plan_of(world, persona, own):
    # A visible plan held by the persona's LA (own) or by the other LA (other).
    plan = PlanFactory(organisation=world.la if own else world.other_la)
    return {"plan_id": plan.pk}


EXPECTATIONS = [
    # Check a child: clinicians and safeguarding leads at a care setting; the gate stops the untrained.
    Expect("attendances:check", statuses={"clinician": 200, "safeguarding_lead": 200}),
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
]
