from django import forms

from core.nhs_numbers import NHSNumberField
from privacy.models import AlertOutcome


class InvestigationOpenForm(forms.Form):
    reason = forms.CharField(
        label="Why are you opening an investigation?",
        max_length=1000,
        error_messages={"required": "Enter why you are opening an investigation"},
    )


class AlertCloseForm(forms.Form):
    outcome = forms.ChoiceField(
        label="Outcome", choices=AlertOutcome.choices, widget=forms.RadioSelect,
        error_messages={"required": "Select an outcome", "invalid_choice": "Select an outcome"},
    )  # fmt: skip
    note = forms.CharField(label="Note", max_length=2000, error_messages={"required": "Enter a note on what you found"})


class AccessReportForm(forms.Form):
    """A family's request: one child (POST: no NHS number in URLs)."""

    nhs_number = NHSNumberField(label="NHS number", max_length=40)
    include_names = forms.BooleanField(label="Include staff names", required=False)
