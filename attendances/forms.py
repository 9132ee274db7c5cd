import re
import uuid
from datetime import date, datetime, time, timedelta

from django import forms
from django.utils import timezone

from core.dates import london_moment
from core.nhs_numbers import NHSNumberField

_TIME = re.compile(r"^([01]?[0-9]|2[0-3])[:.]?([0-5][0-9])$")
# A clock a few minutes fast on a ward PC must not turn "just now" into "yesterday".
_CLOCK_TOLERANCE = timedelta(minutes=5)
# An arrival further back than this is more often a typing slip (23:50 for 13:50) than a long
# wait, so the clinician confirms it before it is recorded as "yesterday".
ARRIVAL_CONFIRM_AFTER = timedelta(hours=12)


def _most_recent_past(moment: time, now: datetime) -> datetime:
    """Today at `moment` (Europe/London), or yesterday if that is still to come.

    At triage the child arrived within the last day; asking for a date as well would cost every
    clinician seconds for the rare child who waited past midnight, which this rule covers.
    """
    local_now = timezone.localtime(now)
    today_at = london_moment(local_now.date(), moment)
    if today_at <= now + _CLOCK_TOLERANCE:
        return today_at
    return london_moment(local_now.date() - timedelta(days=1), moment)


class ChildCheckForm(forms.Form):
    nhs_number = NHSNumberField(label="NHS number", max_length=40)
    dob_day = forms.CharField(label="Day", required=False, max_length=2)
    dob_month = forms.CharField(label="Month", required=False, max_length=2)
    dob_year = forms.CharField(label="Year", required=False, max_length=4)
    arrival_time = forms.CharField(label="Arrival time (optional)", required=False, max_length=5)
    arrival_confirmed = forms.BooleanField(required=False)
    # One per rendered form: a second submission of the same form records nothing new.
    check_token = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args, now: datetime | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now or timezone.now()
        # Set when the arrival time entered is long ago: the page then asks to confirm it.
        self.arrival_to_confirm: datetime | None = None

    def clean_check_token(self) -> uuid.UUID | None:
        # Never block a check at triage over a hidden field: without a usable token the check
        # still runs, it only loses its protection against being recorded twice.
        try:
            return uuid.UUID(self.cleaned_data["check_token"])
        except ValueError:
            return None

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        cleaned["date_of_birth"] = self._date_of_birth()
        cleaned["arrived_at"] = self._arrived_at()
        return cleaned

    def _date_of_birth(self) -> date | None:
        parts = [self.cleaned_data.get(f"dob_{p}", "").strip() for p in ("day", "month", "year")]
        if not any(parts):
            return None
        if not all(parts):
            self.add_error("dob_day", "Date of birth must include a day, month and year")
            return None
        day, month, year = parts
        if not (day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4):
            self.add_error("dob_day", "Date of birth must be a real date, like 27 3 2015")
            return None
        try:
            value = date(int(year), int(month), int(day))
        except ValueError:
            self.add_error("dob_day", "Date of birth must be a real date, like 27 3 2015")
            return None
        if value > timezone.localdate(self.now):
            self.add_error("dob_day", "Date of birth must be today or in the past")
            return None
        return value

    def _arrived_at(self) -> datetime:
        text = self.cleaned_data.get("arrival_time", "").strip()
        if not text:
            return self.now
        match = _TIME.match(text)
        if match is None:
            self.add_error("arrival_time", "Enter the arrival time using the 24-hour clock, like 14:30")
            return self.now
        arrived_at = _most_recent_past(time(int(match[1]), int(match[2])), self.now)
        if self.now - arrived_at > ARRIVAL_CONFIRM_AFTER and not self.cleaned_data.get("arrival_confirmed"):
            self.arrival_to_confirm = arrived_at
            local = timezone.localtime(arrived_at)
            hours = int((self.now - arrived_at).total_seconds() // 3600)
            self.add_error(
                "arrival_time",
                f"{text} would be recorded as {local:%A %-d %B} at {local:%H:%M}, {hours} hours ago. "
                "Confirm that is right, or correct the time",
            )
        return arrived_at


class ChildFindForm(forms.Form):
    """A social worker looks up one of their local authority's children (POST: no NHS number in URLs)."""

    nhs_number = NHSNumberField(label="NHS number", max_length=40)
