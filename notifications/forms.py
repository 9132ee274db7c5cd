from typing import cast

from django import forms

from core.forms import DatePartsField
from core.outbound import Refusal
from notifications.webhooks import WEBHOOK_URL_REFUSALS, webhook_url_refusal
from plans.models import PlanType


class InboxFilterForm(forms.Form):
    """The inbox's filters, read from the query string (never child data: dates, codes, ids)."""

    STATUS_CHOICES = [("new", "New"), ("overdue", "Overdue"), ("acknowledged", "Acknowledged")]

    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    date_from = DatePartsField(label="Attended from", required=False)
    date_to = DatePartsField(label="Attended to", required=False)
    plan_type = forms.ChoiceField(label="Plan type", choices=[("", "Any plan type"), *PlanType.choices], required=False)
    setting = forms.TypedChoiceField(label="Care setting", coerce=int, required=False, empty_value=None)
    assigned = forms.ChoiceField(label="Assigned to", required=False, choices=[("", "Anyone"), ("me", "Me")])
    # From the home page's "acknowledged today"; not a filter anyone types.
    acknowledged = forms.ChoiceField(required=False, choices=[("", "Any day"), ("today", "Today")])

    def __init__(self, *args, settings_choices: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["setting"]).choices = [("", "Any care setting"), *settings_choices]

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The 'to' date must be the same as or after the 'from' date")
        return cleaned

    def clean_status(self) -> str:
        return self.cleaned_data.get("status") or "new"


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        label="What has been done",
        max_length=2000,
        widget=forms.Textarea,
        error_messages={"required": "Enter a note saying what has been done"},
    )

    def clean_note(self) -> str:
        note = self.cleaned_data["note"].strip()
        if not note:
            raise forms.ValidationError("Enter a note saying what has been done")
        return note


class AssignForm(forms.Form):
    """Assign to anyone who is a social worker at the LA; no choice posted means "to me"."""

    assignee = forms.TypedChoiceField(
        label="Assign to", coerce=int, required=False, empty_value=None,
        error_messages={"invalid_choice": "Select a social worker in your team"},
    )  # fmt: skip

    def __init__(self, *args, colleagues: list, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["assignee"]).choices = [(u.pk, u.full_name) for u in colleagues]


class WebhookSettingsForm(forms.Form):
    url = forms.URLField(
        label="Endpoint address",
        help_text="Your case-management system's address for CP-IS notifications. It must start with https://",
        max_length=500,
        assume_scheme="https",
        error_messages={
            "required": "Enter your endpoint's address",
            "invalid": "Enter a web address, like https://cms.example.gov.uk/cpis",
        },
    )
    is_active = forms.BooleanField(label="Send notifications to this endpoint", required=False, initial=True)
    # Why the address check refused the address, if it did: the view audits one inside the network.
    refusal: Refusal | None = None

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        # The payload holds children's details: never over plain http. And never to an address
        # inside our own network, which would make this form a way to probe it (ADR-011).
        if not url.lower().startswith("https://"):
            raise forms.ValidationError("The address must start with https://")
        self.refusal = webhook_url_refusal(url)
        if self.refusal:
            raise forms.ValidationError(WEBHOOK_URL_REFUSALS[self.refusal])
        return url
