from datetime import timedelta

from django import forms
from django.utils import timezone

from core.forms import DatePartsField

DEFAULT_WEEKS = 12
MAX_DAYS = 366


class ReportRangeForm(forms.Form):
    """The date range of a report (GET: dates only); blank means the last 12 weeks."""

    date_from = DatePartsField(label="From", required=False)
    date_to = DatePartsField(label="To", required=False)

    def clean(self):
        super().clean()
        data = self.cleaned_data
        today = timezone.localdate()
        end = data.get("date_to") or today
        start = data.get("date_from") or end - timedelta(weeks=DEFAULT_WEEKS) + timedelta(days=1)
        if end < start:
            self.add_error("date_to", "The 'to' date must be the same as or after the 'from' date")
        elif (end - start).days >= MAX_DAYS:
            self.add_error("date_from", "Choose a range of a year or less")
        data["start"], data["end"] = start, end
        return data

    def range(self):
        """(start, end): the cleaned range, or the default when the form is not valid."""
        if self.is_bound and self.is_valid():
            return self.cleaned_data["start"], self.cleaned_data["end"]
        end = timezone.localdate()
        return end - timedelta(weeks=DEFAULT_WEEKS) + timedelta(days=1), end
