"""Working days in England: Monday to Friday, except bank holidays.

England's bank holidays come from the `holidays` package (`country_holidays("GB",
subdiv="ENG")`): the rules (Easter, the substitute days when one falls at a weekend) for any
year, and the one-off days it is told of (a coronation, a state funeral) in its releases.
`NOTIFICATION_EXTRA_HOLIDAYS` adds one-off days without a release. A day missing from both only
makes notifications overdue a day early: the safe direction.
"""

from datetime import date, datetime, timedelta
from functools import cache

import holidays
from django.conf import settings
from django.utils import timezone

from core.dates import london_moment


@cache
def bank_holidays_england(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_working_day(day: date) -> bool:
    extra = {date.fromisoformat(d) for d in settings.NOTIFICATION_EXTRA_HOLIDAYS}
    return day.weekday() < 5 and day not in bank_holidays_england(day.year) and day not in extra


def one_working_day_after(moment: datetime) -> datetime:
    """The same clock time (Europe/London) on the next working day.

    A notification received on Friday afternoon is due on Monday afternoon; one received on a
    Saturday is due on Monday at that time (earlier than a full working day: for a child
    protection alert, early is the safe side).
    """
    local = timezone.localtime(moment)
    day = local.date() + timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return london_moment(day, local.time().replace(tzinfo=None))
