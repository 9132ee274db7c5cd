"""The dates any form of ours accepts: a sane range, so no input reaches date arithmetic that
overflows (31/12/9999 + one day is an OverflowError, and was a 500)."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.utils import timezone

EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)


def date_in_range(value: dt.date | None) -> None:
    if value is not None and not (EARLIEST_DATE <= value <= LATEST_DATE):
        raise ValidationError(
            f"Enter a date between {EARLIEST_DATE.year} and {LATEST_DATE.year}", code="date_out_of_range"
        )


def london_moment(day: dt.date, at: dt.time) -> dt.datetime:
    """`day` at the clock time `at` in England (TIME_ZONE), as an aware datetime: what a person
    in England means by "27 March at 14:05", whatever the clocks did that day."""
    return timezone.make_aware(dt.datetime.combine(day, at))


def day_start(day: dt.date) -> dt.datetime:
    """Midnight at the start of `day` in England: where every "from"/"to" date filter and
    "today" count begins."""
    return london_moment(day, dt.time.min)


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)
