"""How every page and e-mail writes NHS numbers and dates, registered once in the Jinja2
environment (cpis/jinja2.py): one way for a day, one for a moment, one for an NHS number."""

import datetime as dt

from django.utils import timezone

from core.nhs_numbers import nhs_number_format


def date_format(value: dt.date | dt.datetime | None) -> str:
    """A day as people in England read it: "25 November 2026" (a datetime's day in UK time)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value).date()
    return value.strftime("%-d %B %Y")


def datetime_format(value: dt.datetime | None, *, seconds: bool = False) -> str:
    """An aware moment in UK time: "25 November 2026, 14:05" (stored in UTC, shown local)."""
    if value is None:
        return ""
    return timezone.localtime(value).strftime("%-d %B %Y, %H:%M:%S" if seconds else "%-d %B %Y, %H:%M")


FILTERS = {"date_format": date_format, "datetime_format": datetime_format}
GLOBALS = {"nhs_number_format": nhs_number_format}
