from typing import cast

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import Organisation
from administration.audit_log.presentation import action_choices_grouped
from audit.models import AuditAction
from core.forms import DatePartsField
from core.nhs_numbers import NHSNumberField


class AuditSearchForm(forms.Form):
    """Every field is optional; an empty search lists the newest events first."""

    user = forms.CharField(label="User's email address or name", max_length=254, required=False)
    nhs_number = NHSNumberField(label="NHS number", required=False)
    organisation = forms.CharField(label="Organisation ODS code", max_length=10, required=False)
    action = forms.ChoiceField(label="Action", required=False)
    date_from = DatePartsField(label="From", required=False)
    date_to = DatePartsField(label="To", required=False)

    def __init__(self, *args, national: bool, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["action"]).choices = [
            ("", "Any action"),
            *action_choices_grouped(AuditAction),
        ]
        if not national:
            # An org admin only ever sees their own organisation's events, and never searches by
            # child: their role shows no child identifiers (SPEC 1).
            del self.fields["organisation"]
            del self.fields["nhs_number"]

    def clean_organisation(self) -> str:
        ods = self.cleaned_data.get("organisation", "").strip().upper()
        if ods and not Organisation.objects.filter(ods_code=ods).exists():
            raise ValidationError("There is no organisation with this ODS code")
        return ods

    def clean(self):
        super().clean()
        data = self.cleaned_data
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The 'to' date must be the same as or after the 'from' date")
        return data

    def criteria(self) -> dict:
        """The cleaned search as JSON-safe values, kept in the session (never in the URL)."""
        data = self.cleaned_data
        return {
            "user": data.get("user", "").strip(),
            "nhs_number": data.get("nhs_number") or "",
            "organisation": data.get("organisation", ""),
            "action": data.get("action", ""),
            "date_from": data["date_from"].isoformat() if data.get("date_from") else "",
            "date_to": data["date_to"].isoformat() if data.get("date_to") else "",
        }
