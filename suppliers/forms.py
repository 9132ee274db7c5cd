from django import forms
from django.core.exceptions import ValidationError

from suppliers.la_conformance import la_run_mailbox_clean
from suppliers.models import SupplierSystem, SystemKind
from suppliers.scenarios import SCENARIOS


class SystemForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=SystemKind.choices, widget=forms.RadioSelect, label="Kind of system")

    class Meta:
        model = SupplierSystem
        fields = ["supplier", "product", "version", "kind", "offers_fhir", "offers_mesh", "offers_upload"]

    def clean(self):
        data = super().clean()
        if data is not None and not any(data.get(f) for f in ("offers_fhir", "offers_mesh", "offers_upload")):
            raise forms.ValidationError("Select at least one interface the system uses")
        return data


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        max_length=1000, label="Why is the accreditation withdrawn?", error_messages={"required": "Enter a reason"}
    )


class SystemUseForm(forms.Form):
    systems = forms.MultipleChoiceField(
        required=False, choices=[], widget=forms.CheckboxSelectMultiple, label="Systems this organisation uses"
    )

    def __init__(self, *args, systems=(), **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["systems"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(str(s.pk), str(s)) for s in systems]


ANSWERS = [("yes", "Yes"), ("no", "No")]


class ConfirmationForm(forms.Form):
    """The supplier's tester, per scenario with something to confirm: did the system show it?"""

    tester = forms.CharField(max_length=200, label="Your name", error_messages={"required": "Enter your name"})

    def __init__(self, *args, scenarios=SCENARIOS, **kwargs):
        super().__init__(*args, **kwargs)
        # The FHIR script's or the LA script's (suppliers/la_scenarios.py): both have key, title, confirm.
        self.scenarios = scenarios
        for scenario in scenarios:
            if scenario.confirm:
                self.fields[f"answer_{scenario.key}"] = forms.ChoiceField(
                    choices=ANSWERS, required=False, widget=forms.RadioSelect, label=scenario.confirm
                )
                self.fields[f"note_{scenario.key}"] = forms.CharField(
                    max_length=500, required=False, label="What the system showed (optional)"
                )

    def scenario_fields(self):
        return [
            (scenario, self[f"answer_{scenario.key}"], self[f"note_{scenario.key}"])
            for scenario in self.scenarios
            if scenario.confirm
        ]

    def answers(self) -> dict[str, dict[str, str]]:
        return {
            scenario.key: {
                "answer": self.cleaned_data[f"answer_{scenario.key}"],
                "note": self.cleaned_data[f"note_{scenario.key}"],
            }
            for scenario in self.scenarios
            if scenario.confirm and self.cleaned_data.get(f"answer_{scenario.key}")
        }


class LaRunOpenForm(forms.Form):
    mailbox_id = forms.CharField(
        max_length=20,
        label="The supplier's MESH mailbox id for the run",
        help_text="Their test mailbox: its files reach only the run's synthetic local authority.",
        error_messages={"required": "Enter the supplier's MESH mailbox id"},
    )

    def clean_mailbox_id(self) -> str:
        try:
            return la_run_mailbox_clean(self.cleaned_data["mailbox_id"])
        except ValidationError as error:
            raise forms.ValidationError(error.messages[0]) from error
