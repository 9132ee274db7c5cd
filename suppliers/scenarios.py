"""The script a conformance run publishes: what the supplier's system must do, scenario by
scenario, and what the run expects to see of it (judged in suppliers/judge.py)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    # What the supplier's tester does, in the system's own terms.
    instruction: str
    # "clinician" or "lead": the run's token the system must use.
    token: str
    # The interaction the scenario is about: "CareTeam" (the check) or "AuditEvent" (the history).
    interaction: str
    # The IsUnscheduledAccessEvent the system must send.
    unscheduled: bool
    # The answer the scenario's request must end with.
    expected_status: int
    # What the tester confirms the system showed; "" when nothing is shown to confirm.
    confirm: str = ""
    # Only for systems that offer it: no request at all is "not offered", not a failure.
    optional: bool = False
    # A number that is not a valid NHS number (its check digit is wrong).
    invalid_number: bool = False
    # The history is read in pages: `_count` and a `next` link followed.
    paged: bool = False
    # The run answers the first request 503 once; the system must retry later, same TraceID.
    outage: bool = False


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "on_plan",
        "A child on a plan",
        "Check this child as a clinician at an unscheduled attendance.",
        "clinician",
        "CareTeam",
        True,
        200,
        confirm="The alert showed the child protection plan and the local authority's office-hours and "
        "emergency-duty numbers.",
    ),
    Scenario(
        "two_las",
        "A child known to two local authorities",
        "Check this child as a clinician.",
        "clinician",
        "CareTeam",
        True,
        200,
        confirm="Both local authorities were shown, each with its own numbers.",
    ),
    Scenario(
        "unborn",
        "An unborn child's plan, held against the mother",
        "Check the mother (this is her NHS number) as a clinician at a maternity attendance.",
        "clinician",
        "CareTeam",
        True,
        200,
        confirm="The unborn child protection plan was shown against the mother.",
    ),
    Scenario(
        "no_plan",
        "A child with no plan",
        "Check this child as a clinician.",
        "clinician",
        "CareTeam",
        True,
        200,
        confirm="The system said there is no plan, without an error.",
    ),
    Scenario(
        "invalid_number",
        "An invalid NHS number",
        "Enter this number (its check digit is wrong) and check it as a clinician. The service answers 400: "
        "the system must say so and not send it again.",
        "clinician",
        "CareTeam",
        True,
        400,
        confirm="The system said the NHS number is not valid.",
        invalid_number=True,
    ),
    Scenario(
        "ended",
        "An ended plan, still shown",
        "Check this child as a clinician: the plan ended 30 days ago and is still shared.",
        "clinician",
        "CareTeam",
        True,
        200,
        confirm="The plan was shown as ended, with its end date.",
    ),
    Scenario(
        "silent_read",
        "A silent read",
        "If the system offers a view without notifying, use it for this child as the safeguarding lead "
        "(IsUnscheduledAccessEvent: false). Skip it if the system has none.",
        "lead",
        "CareTeam",
        False,
        200,
        confirm="The plan was shown, marked as a view that does not notify the local authority.",
        optional=True,
    ),
    Scenario(
        "silent_refused",
        "A silent read refused to a clinician",
        "As the clinician, try the view without notifying for this child (IsUnscheduledAccessEvent: false). "
        "The service refuses it (403): the system must say so and not send it again.",
        "clinician",
        "CareTeam",
        False,
        403,
        confirm="The system said the clinician may not view without notifying.",
    ),
    Scenario(
        "history",
        "The history, with its viewers",
        "Check this child as a clinician, then show who has viewed the child (AuditEvent).",
        "clinician",
        "AuditEvent",
        True,
        200,
        confirm="The previous viewers were shown with their names, roles, organisations and times.",
    ),
    Scenario(
        "paging",
        "Paging the history with _count",
        "Check this child as a clinician, then read the history two at a time (_count=2) and follow the "
        "next link at least once.",
        "clinician",
        "AuditEvent",
        True,
        200,
        confirm="All six previous viewers were shown across the pages.",
        paged=True,
    ),
    Scenario(
        "outage",
        "The service unavailable once",
        "Check this child as a clinician. The service answers the first request 503 with Retry-After: the "
        "system must wait that long and retry once with the same TraceID.",
        "clinician",
        "CareTeam",
        True,
        200,
        confirm="The system showed the plan after retrying, and told the clinician while it waited.",
        outage=True,
    ),
)

BY_KEY = {scenario.key: scenario for scenario in SCENARIOS}
