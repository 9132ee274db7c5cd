"""Forms only validate and clean; the rules that need the database live in plans/services.py."""

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import phone_validator
from core.forms import DatePartsField
from core.nhs_numbers import NHSNumberField, nhs_number_normalise
from plans.models import PlanType
from plans.upload_rows import name_is_acceptable


class PlanDateField(DatePartsField):
    """The NHS.UK date input (day, month and year boxes), as every date in the service."""

    def __init__(self, *, label: str, required: bool = True, **kwargs):
        super().__init__(
            label=label,
            required=required,
            error_messages={
                "required": f"Enter the {label.lower()}",
                "incomplete": f"{label} must include a day, month and year",
                "invalid_date": f"{label} must be a real date, like 15 3 2019",
            },
            **kwargs,
        )


def _name_field(label: str, max_length: int) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=max_length,
        error_messages={
            "required": f"Enter the {label.lower()}",
            "max_length": f"{label} must be {max_length} characters or fewer",
        },
    )


def _clean_name(value: str, label: str) -> str:
    if value and not name_is_acceptable(value):
        raise ValidationError(f"{label} must not contain control characters such as tabs or line breaks")
    return value


class PlanSearchForm(forms.Form):
    STATUS_CHOICES = [
        ("", "Any status"),
        ("open", "Open"),
        ("ended", "Ended"),
        ("withdrawn", "Withdrawn"),
        ("ending_soon", "Ending in the next 30 days"),
        ("turning_18", "Turning 18 in the next 30 days"),
    ]

    q = forms.CharField(label="NHS number or name", required=False, max_length=100)
    plan_type = forms.ChoiceField(label="Plan type", required=False, choices=[("", "Any type"), *PlanType.choices])
    status = forms.ChoiceField(label="Status", required=False, choices=STATUS_CHOICES)

    def clean_q(self) -> str:
        value = self.cleaned_data["q"].strip()
        digits = value.replace(" ", "").replace("-", "")
        if digits.isdigit():
            # Something that looks like a number is searched as an NHS number, exactly.
            try:
                return nhs_number_normalise(value)
            except ValidationError:
                raise ValidationError("Enter a valid 10-digit NHS number, or a name") from None
        return value


class PlanFieldsMixin(forms.Form):
    def clean_family_name(self) -> str:
        return _clean_name(self.cleaned_data["family_name"].strip(), "Family name")

    def clean_given_names(self) -> str:
        return _clean_name(self.cleaned_data["given_names"].strip(), "Given names")


class PlanCreateForm(PlanFieldsMixin):
    nhs_number = NHSNumberField(label="NHS number")
    family_name = _name_field("Family name", 100)
    given_names = _name_field("Given names", 200)
    date_of_birth = PlanDateField(label="Date of birth")
    plan_type = forms.ChoiceField(
        label="Plan type", choices=PlanType.choices, widget=forms.RadioSelect,
        error_messages={"required": "Select the plan type"},
    )  # fmt: skip
    start_date = PlanDateField(label="Start date")
    end_date = PlanDateField(label="End date", required=False)
    expected_due_date = PlanDateField(label="Expected due date", required=False)
    la_reference = forms.CharField(label="LA case reference", required=False, max_length=50)


class PlanEditForm(PlanFieldsMixin):
    family_name = _name_field("Family name", 100)
    given_names = _name_field("Given names", 200)
    date_of_birth = PlanDateField(label="Date of birth")
    end_date = PlanDateField(label="End date", required=False)
    expected_due_date = PlanDateField(label="Expected due date", required=False)
    la_reference = forms.CharField(label="LA case reference", required=False, max_length=50)

    def __init__(self, *args, plan, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "family_name": plan.family_name,
                "given_names": plan.given_names,
                "date_of_birth": plan.date_of_birth,
                "end_date": plan.end_date,
                "expected_due_date": plan.expected_due_date,
                "la_reference": plan.la_reference,
            },
        )
        super().__init__(*args, **kwargs)
        if plan.plan_type != PlanType.UCPP:
            del self.fields["expected_due_date"]


class PlanEndForm(forms.Form):
    end_date = PlanDateField(label="End date")


class PlanUploadForm(forms.Form):
    file = forms.FileField(
        label="Upload a CSV file",
        error_messages={"required": "Select a CSV file to upload", "empty": "The selected file is empty"},
    )


class ContactsForm(forms.Form):
    office_hours_phone = forms.CharField(
        label="Office-hours phone", required=False, max_length=20, validators=[phone_validator],
        error_messages={"max_length": "Enter a telephone number, like 020 7946 0000"},
    )  # fmt: skip
    # Clinicians phone this out of hours when a child on a plan turns up: never blank.
    emergency_duty_phone = forms.CharField(
        label="Emergency duty (out of hours) phone", max_length=20, validators=[phone_validator],
        error_messages={
            "required": "Enter the emergency duty phone number",
            "max_length": "Enter a telephone number, like 020 7946 0000",
        },
    )  # fmt: skip
    team_mailbox = forms.EmailField(
        label="Team mailbox", required=False, max_length=254,
        error_messages={"invalid": "Enter an email address, like team@council.gov.uk"},
    )  # fmt: skip


def errors_to_form(form: forms.Form, error: ValidationError) -> None:
    """Puts a service's ValidationError on the form's fields, or on the form if not a field."""
    for name, messages in error.message_dict.items():
        form.add_error(name if name in form.fields else None, messages)
