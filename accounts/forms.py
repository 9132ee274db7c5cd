from typing import cast

from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from accounts.models import Organisation, Region, User
from accounts.passkeys import passkeys_of
from accounts.requests import CpisRequest


def _email_field() -> forms.EmailField:
    """The address people sign in with, worded the same on every form that asks for it."""
    return forms.EmailField(
        label="Email address",
        max_length=254,
        error_messages={
            "required": "Enter your email address",
            "invalid": "Enter an email address, like name@example.nhs.uk",
        },
    )


def _password_field(label: str = "Password", *, required: str = "Enter your password") -> forms.CharField:
    """A password typed in, never stripped (spaces are part of it), bounded so that hashing an
    enormous post costs nothing: every password field of every form is this one."""
    return forms.CharField(
        label=label,
        strip=False,
        max_length=200,
        widget=forms.PasswordInput,
        error_messages={"required": required},
    )


class LoginForm(forms.Form):
    email = _email_field()
    password = _password_field()


class OTPForm(forms.Form):
    code = forms.CharField(
        label="Security code",
        max_length=20,
        error_messages={"required": "Enter the security code from your authenticator app"},
    )

    def clean_code(self) -> str:
        # People paste codes with spaces ("123 456"); backup codes are case-insensitive.
        return "".join(self.cleaned_data["code"].split()).lower()


class OrganisationSelectForm(forms.Form):
    organisation = forms.ModelChoiceField(
        queryset=Organisation.objects.none(),
        label="Which organisation are you working for?",
        empty_label=None,
        error_messages={
            "required": "Select the organisation you are working for",
            "invalid_choice": "Select one of your organisations",
        },
    )

    def __init__(self, *args, organisations, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["organisation"]).queryset = Organisation.objects.filter(
            pk__in=[o.pk for o in organisations]
        )


def post_data(request: CpisRequest):
    """The submitted data for a form, or None when nothing was submitted.

    Not `request.POST or None`: an empty POST (every field left out) is falsy, and would
    leave the form unbound, so the page would answer as if nothing had been sent instead of
    showing the error summary.
    """
    return request.POST if request.method == "POST" else None


def _new_password_fields():
    return (
        _password_field("New password", required="Enter a new password"),
        _password_field("Type the new password again", required="Type the new password again"),
    )


def _second_factor_field():
    return forms.CharField(
        label="Security code",
        max_length=20,
        help_text="From your authenticator app, or one of your backup codes",
        error_messages={"required": "Enter the security code from your authenticator app"},
    )


class NewPasswordForm(forms.Form):
    """A new password, typed twice and checked against the password rules, for `user`."""

    new_password, new_password_again = _new_password_fields()
    code = _second_factor_field()
    remove_passkeys = forms.BooleanField(required=False, label="Also remove all my passkeys")

    def __init__(self, *args, user, needs_code: bool = True, removable_passkeys: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if not needs_code:
            # Never enrolled (a reset before the first sign-in): enrolment comes at sign-in.
            del self.fields["code"]
        if removable_passkeys:
            # A passkey signs in without the password: changing the password alone leaves
            # whoever added one signed in for good (issue 24 item 1).
            self.fields[
                "remove_passkeys"
            ].label = f"Also remove your {removable_passkeys} passkey{'s' if removable_passkeys != 1 else ''}"
        else:
            del self.fields["remove_passkeys"]

    def clean_code(self) -> str:
        return "".join(self.cleaned_data["code"].split()).lower()

    def clean(self):
        super().clean()
        data = self.cleaned_data
        password, again = data.get("new_password"), data.get("new_password_again")
        if password and again and password != again:
            self.add_error("new_password_again", "The passwords do not match")
        elif password:
            try:
                validate_password(password, user=self.user)
            except ValidationError as error:
                self.add_error("new_password", error)
        return data


class PasswordChangeForm(NewPasswordForm):
    current_password = _password_field("Current password", required="Enter your current password")
    field_order = ["current_password", "new_password", "new_password_again", "code", "remove_passkeys"]

    def __init__(self, *args, request: CpisRequest, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_current_password(self) -> str:
        password = self.cleaned_data["current_password"]
        # Through the authentication backends, as at sign-in, so that a wrong password counts
        # towards the sign-in's lockout (a stolen session cannot guess the password either).
        proved = authenticate(request=self.request, username=self.user.email, password=password)
        if proved is None or proved.pk != self.user.pk:
            raise ValidationError("Your current password is not correct")
        return password


class ReauthenticationForm(forms.Form):
    """The password and a code again, before a passkey is added (accounts/reauthentication.py)."""

    password = _password_field()
    code = _second_factor_field()

    def clean_code(self) -> str:
        return "".join(self.cleaned_data["code"].split()).lower()


class PasswordForgottenForm(forms.Form):
    email = _email_field()


class SecondFactorForm(forms.Form):
    code = _second_factor_field()

    def clean_code(self) -> str:
        return "".join(self.cleaned_data["code"].split()).lower()


# The national lists' region filter (organisations, implementation progress).


def region_filter(request: CpisRequest) -> str:
    """The `region` filter of the national lists: a region's value, "none" (not set), or ""."""
    region = request.GET.get("region", "")
    return region if region in Region.values or region == "none" else ""


def region_choices(selected: str) -> list[dict]:
    options = [("", "All regions"), *Region.choices, ("none", "Region not set")]
    return [{"value": v, "text": t, "selected": v == selected} for v, t in options]


def organisations_in_region(organisations, region: str):
    if not region:
        return organisations
    return organisations.filter(region="" if region == "none" else region)


class PasskeyNameForm(forms.Form):
    name = forms.CharField(
        label="Name this passkey",
        help_text="So you can tell your passkeys apart, for example the device or password manager it is on",
        max_length=64,
        error_messages={
            "required": "Enter a name for the passkey",
            "max_length": "Name must be 64 characters or fewer",
        },
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if passkeys_of(self.user).filter(name__iexact=name).exists():
            raise ValidationError("You already have a passkey with this name. Enter a different name")
        return name
