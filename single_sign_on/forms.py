from django import forms

from single_sign_on.models import ClientAuthMethod, IdentityProvider


class IdentityProviderForm(forms.ModelForm):
    issuer = forms.URLField(
        label="Issuer URL",
        max_length=300,
        assume_scheme="https",
        help_text="The provider's discovery document is read from this address.",
        error_messages={
            "required": "Enter the issuer URL",
            "invalid": "Enter the issuer as a URL, like https://example.org",
        },
    )
    # Write-only: the page never shows a saved secret, and leaving the box empty keeps it.
    new_client_secret = forms.CharField(
        label="Client secret",
        required=False,
        strip=True,
        max_length=300,
        widget=forms.PasswordInput(render_value=False),
        help_text="Only for client-secret authentication. Leave empty to keep the saved secret.",
    )

    class Meta:
        model = IdentityProvider
        fields = [
            "name",
            "issuer",
            "client_id",
            "client_auth_method",
            "scopes",
            "subject_claim",
            "email_claim",
            "acr_values_requested",
            "two_factor_acr",
            "two_factor_amr",
            "is_enabled",
        ]
        labels = {
            "name": "Name on the sign-in button",
            "client_id": "Client ID",
            "client_auth_method": "How the service proves it is the client",
            "subject_claim": "Claim naming the person",
            "email_claim": "Claim carrying the email address",
            "acr_values_requested": "acr_values to request",
            "two_factor_acr": "acr values that count as two-factor",
            "two_factor_amr": "amr values that count as two-factor",
            "is_enabled": "Offer this sign-in to staff",
        }
        help_texts = {
            "subject_claim": "For example sub, or uid for the NHS CIS2 user ID.",
            "acr_values_requested": "For NHS CIS2, AAL2_OR_AAL3_ANY. Leave empty to request none.",
            "two_factor_acr": "Separated by spaces, for example AAL3_ANY. Otherwise the service's own second factor follows.",
            "two_factor_amr": "Separated by spaces, for example mfa hwk otp.",
        }
        error_messages = {
            "name": {"required": "Enter the name to show on the sign-in button"},
            "issuer": {
                "required": "Enter the issuer URL",
                "invalid": "Enter the issuer as a URL, like https://example.org",
            },
            "client_id": {"required": "Enter the client ID"},
            "client_auth_method": {"required": "Select how the service proves it is the client"},
            "scopes": {"required": "Enter the scopes, including openid"},
        }

    def clean_scopes(self) -> str:
        scopes = self.cleaned_data["scopes"].split()
        if "openid" not in scopes:
            raise forms.ValidationError("Include openid in the scopes")
        return " ".join(scopes)

    def clean(self):
        super().clean()
        data = self.cleaned_data
        method = data.get("client_auth_method")
        if (
            method == ClientAuthMethod.CLIENT_SECRET_BASIC
            and not data.get("new_client_secret")
            and not self.instance.client_secret
        ):
            self.add_error("new_client_secret", "Enter the client secret")
        return data


class LinkDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("confirm", "Confirm"), ("decline", "Decline")],
        error_messages={"required": "Choose to confirm or decline", "invalid_choice": "Choose to confirm or decline"},
    )
