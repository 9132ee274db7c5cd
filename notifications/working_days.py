"""Working days in England: Monday to Friday, except bank holidays.

The list is the published England and Wales bank holidays (gov.uk/bank-holidays); it needs a
new year added each autumn, and `NOTIFICATION_EXTRA_HOLIDAYS` adds one-off days without a
release (a royal event, say). A year missing from the list only makes notifications overdue a
day early on its bank holidays: the safe direction.
"""

from datetime import date, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from core.dates import london_moment

BANK_HOLIDAYS_ENGLAND = frozenset(
    date.fromisoformat(d)
    for d in [
        "2025-01-01",
        "2025-04-18",
        "2025-04-21",
        "2025-05-05",
        "2025-05-26",
        "2025-08-25",
        "2025-12-25",
        "2025-12-26",
        "2026-01-01",
        "2026-04-03",
        "2026-04-06",
        "2026-05-04",
        "2026-05-25",
        "2026-08-31",
        "2026-12-25",
        "2026-12-28",
        "2027-01-01",
        "2027-03-26",
        "2027-03-29",
        "2027-05-03",
        "2027-05-31",
        "2027-08-30",
        "2027-12-27",
        "2027-12-28",
        "2028-01-03",
        "2028-04-14",
        "2028-04-17",
        "2028-05-01",
        "2028-05-29",
        "2028-08-28",
        "2028-12-25",
        "2028-12-26",
    ]
)


def is_working_day(day: date) -> bool:
    extra = {date.fromisoformat(d) for d in settings.NOTIFICATION_EXTRA_HOLIDAYS}
    return day.weekday() < 5 and day not in BANK_HOLIDAYS_ENGLAND and day not in extra


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
