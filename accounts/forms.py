from django import forms

from accounts.models import Organisation


class LoginForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        error_messages={
            "required": "Enter your email address",
            "invalid": "Enter an email address, like name@example.nhs.uk",
        },
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        max_length=200,
        widget=forms.PasswordInput,
        error_messages={"required": "Enter your password"},
    )


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
        self.fields["organisation"].queryset = Organisation.objects.filter(pk__in=[o.pk for o in organisations])


def post_data(request):
    """The submitted data for a form, or None when nothing was submitted.

    Not `request.POST or None`: an empty POST (every field left out) is falsy, and would
    leave the form unbound, so the page would answer as if nothing had been sent instead of
    showing the error summary.
    """
    return request.POST if request.method == "POST" else None
