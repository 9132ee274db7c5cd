from django import forms
from django.contrib import admin

from notifications.models import Delivery, WebhookEndpoint
from notifications.webhooks import WEBHOOK_URL_REFUSALS, webhook_url_refusal


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ["local_authority", "url", "secret", "is_active"]
        widgets = {"secret": forms.PasswordInput(render_value=True)}

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        # Child data goes in the body: never over plain HTTP, whatever DEBUG says.
        if not url.startswith("https://"):
            raise forms.ValidationError("The webhook address must start with https://")
        # The same check as the LA admins' form: no address inside our own network (ADR-011).
        refusal = webhook_url_refusal(url)
        if refusal:
            raise forms.ValidationError(WEBHOOK_URL_REFUSALS[refusal])
        return url

    def clean_secret(self) -> str:
        secret = self.cleaned_data["secret"]
        if len(secret) < 32:
            raise forms.ValidationError("Use a random secret of at least 32 characters")
        return secret


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Operators configure an LA's case-management webhook here (docs/notifications.md)."""

    form = WebhookEndpointForm
    list_display = ["local_authority", "url", "is_active", "created_at"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """Read-only: the outbox's state for operators. No child data is shown (ids only)."""

    list_display = ("id", "notification_id", "channel", "status", "attempts", "next_attempt_at", "last_error")
    list_filter = ["status", "channel"]
    # Tuples: the stubs type each option as a union that a list of names does not fit.
    fields = (*list_display, "claimed_at", "sent_at", "failed_at", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
