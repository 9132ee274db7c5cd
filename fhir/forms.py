from django import forms


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="Something that says where it is used, like “ED patient record system”.",
        error_messages={"required": "Enter a name for the token"},
    )
    valid_days = forms.IntegerField(
        label="Days until it expires",
        min_value=1,
        max_value=365,
        initial=90,
        error_messages={
            "required": "Enter how many days the token should work",
            "invalid": "Enter a whole number of days, like 90",
            "min_value": "The token must work for at least 1 day",
            "max_value": "A token can work for at most 365 days",
        },
    )
