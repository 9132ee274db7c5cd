"""The plan rules: one table, each rule with its one message, whichever way a plan arrives.

Three paths apply them, and word for word (tests/plans/test_rule_parity.py runs every rule's
good and bad case through all three):
- the form's service, `plans.services.plan_rules_check`: the rules of one plan
  (`row_rules_broken`) and those against the plans held, each message on its form field;
- the upload's reader, `plans.upload_rows.PlanFileReader`: the rules of one plan, the first
  broken one rejecting the row with the rule's reason;
- the upload's staging SQL, `plans/uploads/staging.py`: the rules against the plans held, set
  based, a rejected row carrying the rule's reason and, from `HELD_RULE_MESSAGES`, its message.
A rule with no `reason` is the form's alone (an upload row with a known key updates that plan);
one with no `field` is the upload's alone (a form never withdraws a plan it has not opened).
Rules about the file itself (a line repeated, two lines at odds) stay in the reader: their
messages name the other line.

No database access here, so the reader can apply the table to 200,000 rows.
"""

from collections.abc import Iterator
from datetime import date
from typing import NamedTuple

from core.formatting import date_format
from plans.models import PlanType, RejectReason, eighteenth_birthday


class PlanRule(NamedTuple):
    reason: RejectReason | None  # the upload's rejection; None: the form's rule alone
    field: str | None  # the form field its message goes on; None: the upload's rule alone
    message: str  # `{adult_on}`: the child's 18th birthday


class Broken(NamedTuple):
    rule: PlanRule
    message: str


# The rules of one plan, in the order they are tried.
BIRTH_IN_FUTURE = PlanRule(RejectReason.FUTURE_DATE, "date_of_birth", "The date of birth must be today or in the past")
START_IN_FUTURE = PlanRule(RejectReason.FUTURE_DATE, "start_date", "The start date must be today or in the past")
START_BEFORE_BIRTH = PlanRule(
    RejectReason.INVALID_DATE, "start_date", "The start date must be on or after the date of birth"
)
END_IN_FUTURE = PlanRule(RejectReason.FUTURE_DATE, "end_date", "The end date must be today or in the past")
END_BEFORE_START = PlanRule(
    RejectReason.END_BEFORE_START, "end_date", "The end date must be the same as or after the start date"
)
DUE_DATE_MISSING = PlanRule(
    RejectReason.DUE_DATE_REQUIRED,
    "expected_due_date",
    "Enter the expected due date: an unborn child protection plan needs one",
)
DUE_DATE_NOT_ALLOWED = PlanRule(
    RejectReason.DUE_DATE_NOT_ALLOWED,
    "expected_due_date",
    "Only an unborn child protection plan has an expected due date",
)
# CPP and LAC are for children: they end on the 18th birthday (SPEC 2 "Plans").
ADULT_AT_START = PlanRule(RejectReason.OVER_18, "start_date", "The child was 18 or over on the start date")
ADULT_STILL_OPEN = PlanRule(
    RejectReason.OVER_18,
    "end_date",
    "The child is 18 or over, so the plan has ended: give its end date ({adult_on} at the latest)",
)
END_AFTER_ADULTHOOD = PlanRule(
    RejectReason.OVER_18, "end_date", "The end date must be on or before the child's 18th birthday ({adult_on})"
)

# The rules against the plans held (any LA's for the date of birth, the LA's own for the rest).
BIRTH_DATE_CONFLICT = PlanRule(
    RejectReason.DEMOGRAPHICS_CONFLICT,
    "date_of_birth",
    "CP-IS already holds a different date of birth for this NHS number. "
    "Check the NHS number and date of birth with the NHS Spine",
)
OPEN_PLAN_HELD = PlanRule(
    RejectReason.OPEN_PLAN_EXISTS,
    "plan_type",
    "An open plan of this type with a different start date is already held for this child. End that plan first",
)
KEY_HELD = PlanRule(None, "start_date", "There is already a plan of this type for this child with this start date")
NO_PLAN_TO_WITHDRAW = PlanRule(
    RejectReason.NO_PLAN_TO_WITHDRAW,
    None,
    "There is no plan with this NHS number, plan type and start date to withdraw",
)

ROW_RULES = (
    BIRTH_IN_FUTURE,
    START_IN_FUTURE,
    START_BEFORE_BIRTH,
    END_IN_FUTURE,
    END_BEFORE_START,
    DUE_DATE_MISSING,
    DUE_DATE_NOT_ALLOWED,
    ADULT_AT_START,
    ADULT_STILL_OPEN,
    END_AFTER_ADULTHOOD,
)
HELD_RULES = (BIRTH_DATE_CONFLICT, OPEN_PLAN_HELD, KEY_HELD, NO_PLAN_TO_WITHDRAW)
PLAN_RULES = ROW_RULES + HELD_RULES
# What the staging SQL's rejections say, by the reason it marks a row with.
HELD_RULE_MESSAGES: dict[str, str] = {rule.reason: rule.message for rule in HELD_RULES if rule.reason is not None}

_UCPP = PlanType.UCPP.value
_ADULT_ENDED = (PlanType.CPP.value, PlanType.LAC.value)


def row_rules_broken(
    *,
    date_of_birth: date | None,
    plan_type: str,
    start_date: date | None,
    end_date: date | None,
    expected_due_date: date | None,
    withdrawn: bool,
    today: date,
) -> Iterator[Broken]:
    """Each rule of one plan that these values break, in the table's order. A value that is
    missing (the form's own error says so) skips the rules that need it; a withdrawal skips the
    age rules, because removing a plan recorded in error must always get through."""
    if date_of_birth and date_of_birth > today:
        yield Broken(BIRTH_IN_FUTURE, BIRTH_IN_FUTURE.message)
    if start_date and start_date > today:
        yield Broken(START_IN_FUTURE, START_IN_FUTURE.message)
    if date_of_birth and start_date and start_date < date_of_birth:
        yield Broken(START_BEFORE_BIRTH, START_BEFORE_BIRTH.message)
    if end_date is not None:
        if end_date > today:
            yield Broken(END_IN_FUTURE, END_IN_FUTURE.message)
        elif start_date and end_date < start_date:
            yield Broken(END_BEFORE_START, END_BEFORE_START.message)
    if plan_type == _UCPP and expected_due_date is None:
        yield Broken(DUE_DATE_MISSING, DUE_DATE_MISSING.message)
    if plan_type != _UCPP and expected_due_date is not None:
        yield Broken(DUE_DATE_NOT_ALLOWED, DUE_DATE_NOT_ALLOWED.message)
    if plan_type in _ADULT_ENDED and not withdrawn and date_of_birth and start_date:
        adult_on = eighteenth_birthday(date_of_birth)
        if start_date >= adult_on:
            yield Broken(ADULT_AT_START, ADULT_AT_START.message)
        elif end_date is None and today >= adult_on:
            yield Broken(ADULT_STILL_OPEN, ADULT_STILL_OPEN.message.format(adult_on=date_format(adult_on)))
        elif end_date is not None and end_date > adult_on:
            yield Broken(END_AFTER_ADULTHOOD, END_AFTER_ADULTHOOD.message.format(adult_on=date_format(adult_on)))
