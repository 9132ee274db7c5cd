"""Forms of access administration: they validate and clean; services do the writes."""

import datetime as dt
from typing import cast

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import Organisation, OrganisationKind, Role, User
from administration.services import ORGANISATION_FIELDS, grantable_roles
from core.forms import DatePartsField


class InvitationForm(forms.Form):
    full_name = forms.CharField(label="Full name", max_length=200, error_messages={"required": "Enter their full name"})
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        error_messages={
            "required": "Enter their work email address",
            "invalid": "Enter an email address, like name@example.nhs.uk",
        },
    )
    roles = forms.MultipleChoiceField(
        label="Roles",
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": "Select at least one role",
            "invalid_choice": "You cannot grant that role here",
        },
    )

    def __init__(self, *args, organisation: Organisation, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["roles"]).choices = [
            (r, Role(r).label) for r in grantable_roles(organisation)
        ]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError(
                "This email address already has a CP-IS account. If they work for your organisation, "
                "give them roles from their page in the list of users."
            )
        return email


class InvitationAcceptForm(forms.Form):
    full_name = forms.CharField(label="Full name", max_length=200, error_messages={"required": "Enter your full name"})
    password = forms.CharField(
        label="Create a password",
        strip=False,
        max_length=200,
        widget=forms.PasswordInput,
        error_messages={"required": "Create a password"},
    )
    password_again = forms.CharField(
        label="Type the password again",
        strip=False,
        max_length=200,
        widget=forms.PasswordInput,
        error_messages={"required": "Type the password again"},
    )

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        super().clean()
        data = self.cleaned_data
        password, again = data.get("password"), data.get("password_again")
        if password and again and password != again:
            self.add_error("password_again", "The passwords do not match")
        elif password:
            candidate = User(email=self.email, full_name=data.get("full_name", ""))
            try:
                validate_password(password, user=candidate)
            except ValidationError as error:
                self.add_error("password", error)
        return data


class RoleGrantForm(forms.Form):
    role = forms.ChoiceField(
        label="Role to give",
        error_messages={"required": "Select a role", "invalid_choice": "You cannot grant that role here"},
    )

    def __init__(self, *args, organisation: Organisation, held: frozenset[str], **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["role"]).choices = [
            (r, Role(r).label) for r in grantable_roles(organisation) if r not in held
        ]


class TrainingForm(forms.Form):
    course = forms.CharField(
        label="Course",
        max_length=200,
        initial="CP-IS e-learning",
        error_messages={"required": "Enter the name of the course"},
    )
    completed_on = DatePartsField(
        label="Date completed", error_messages={"required": "Enter the date the course was completed"}
    )

    def clean_completed_on(self) -> dt.date:
        completed_on = self.cleaned_data["completed_on"]
        if completed_on > timezone.localdate():
            raise ValidationError("The date completed must be today or in the past")
        if completed_on.year < 2000:
            raise ValidationError("Enter a date after 2000")
        return completed_on


class OrganisationForm(forms.ModelForm):
    """One organisation, as typed by a national admin or read from a row of an import file."""

    class Meta:
        model = Organisation
        fields = list(ORGANISATION_FIELDS)
        error_messages = {
            "ods_code": {"required": "Enter the ODS code", "unique": "An organisation with this ODS code exists"},
            "name": {"required": "Enter the organisation's name"},
            "kind": {"required": "Select the kind of organisation", "invalid_choice": "Select a kind we know"},
            "setting_type": {"invalid_choice": "Select a setting type we know"},
            "region": {"invalid_choice": "Select one of the seven NHS England regions"},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The model's choices with a blank first; each blank says what it means here. The getter
        # returns the list ChoiceField normalised its choices into; the stubs give it the setter's
        # wider type.
        for name, blank in (("setting_type", "Not a care setting"), ("region", "Not set")):
            field = cast(forms.ChoiceField, self.fields[name])
            field.choices = [("", blank), *cast(list[tuple[str, str]], field.choices)[1:]]

    def clean_ods_code(self) -> str:
        return self.cleaned_data["ods_code"].strip().upper()

    def clean(self):
        super().clean()
        data = self.cleaned_data
        kind = data.get("kind")
        if kind == OrganisationKind.CARE_SETTING and not data.get("setting_type"):
            self.add_error("setting_type", "Select the setting type of a care setting")
        if kind and kind != OrganisationKind.CARE_SETTING and data.get("setting_type"):
            self.add_error("setting_type", "Only a care setting has a setting type")
        if kind == OrganisationKind.LOCAL_AUTHORITY and not data.get("emergency_duty_phone"):
            # Clinicians phone this number when a child on a plan turns up out of hours.
            self.add_error("emergency_duty_phone", "Enter the emergency-duty (out-of-hours) phone of a local authority")
        if self.instance.pk and kind and kind != self.instance.kind and self.instance.memberships.exists():
            self.add_error("kind", "You cannot change the kind of an organisation that has users")
        return data


class OrganisationImportForm(forms.Form):
    file = forms.FileField(
        label="Upload a CSV file",
        error_messages={"required": "Select a CSV file", "empty": "The selected file is empty"},
    )


class AppointAdminForm(forms.Form):
    full_name = forms.CharField(label="Full name", max_length=200, error_messages={"required": "Enter their full name"})
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        error_messages={
            "required": "Enter their work email address",
            "invalid": "Enter an email address, like name@example.nhs.uk",
        },
    )


class AccessReviewForm(forms.Form):
    note = forms.CharField(
        label="Note (optional)",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"max_length": "Keep the note to 500 characters or fewer"},
    )

    def clean_note(self) -> str:
        note = self.cleaned_data["note"]
        # Tabs and line breaks are fine in a note; other control characters are not text.
        if any(not ch.isprintable() and ch not in "\t\r\n" for ch in note):
            raise ValidationError("Remove the control characters from the note")
        return note
