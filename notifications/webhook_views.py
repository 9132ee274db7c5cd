"""An LA admin's webhook settings page (notifications/webhook_settings.py)."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.access import role_required
from accounts.models import Role
from accounts.requests import OrganisationRequest
from core.outbound import Refusal
from notifications.forms import WebhookSettingsForm
from notifications.selectors import webhook_deliveries_recent, webhook_endpoint_of
from notifications.webhook_settings import (
    webhook_address_refuse,
    webhook_endpoint_save,
    webhook_secret_rotate,
    webhook_test_queue,
)

RECENT = 20


def _local_authority(request: OrganisationRequest):
    if not request.organisation.is_local_authority:
        raise PermissionDenied
    return request.organisation


def _page(request: OrganisationRequest, *, form=None, new_secret=None, status=200):
    la = _local_authority(request)
    endpoint = webhook_endpoint_of(local_authority=la)
    if form is None:
        form = WebhookSettingsForm(initial={"url": endpoint.url, "is_active": endpoint.is_active} if endpoint else None)
    recent = webhook_deliveries_recent(local_authority=la, limit=RECENT)
    context = {
        "form": form,
        "endpoint": endpoint,
        "new_secret": new_secret,
        "recent": recent,
        "overlap_hours": settings.NOTIFICATION_WEBHOOK_SECRET_OVERLAP_HOURS,
    }
    # The secret is on this page only once, as the answer to the POST that made it: never cached.
    return render(request, "notifications/webhook_settings.jinja", context, status=status)


@never_cache
@role_required(Role.ORG_ADMIN, local_authority_only=True)
def webhook_settings(request: OrganisationRequest):
    la = _local_authority(request)
    if request.method != "POST":
        return _page(request)
    form = WebhookSettingsForm(request.POST)
    if not form.is_valid():
        if form.refusal == Refusal.NOT_PUBLIC:
            webhook_address_refuse(url=request.POST.get("url", ""), request=request)
        return _page(request, form=form, status=400)
    endpoint, new_secret = webhook_endpoint_save(
        local_authority=la, url=form.cleaned_data["url"], is_active=form.cleaned_data["is_active"], request=request
    )
    if new_secret:
        return _page(request, new_secret=new_secret)
    messages.success(request, "Webhook settings saved.")
    return redirect("notifications:webhook_settings")


@never_cache
@role_required(Role.ORG_ADMIN)
@require_POST
def webhook_secret_rotate_view(request: OrganisationRequest):
    endpoint = webhook_endpoint_of(local_authority=_local_authority(request))
    if endpoint is None:
        return redirect("notifications:webhook_settings")
    return _page(request, new_secret=webhook_secret_rotate(endpoint=endpoint, request=request))


@never_cache
@role_required(Role.ORG_ADMIN)
@require_POST
def webhook_test_view(request: OrganisationRequest):
    endpoint = webhook_endpoint_of(local_authority=_local_authority(request))
    if endpoint is None:
        return redirect("notifications:webhook_settings")
    webhook_test_queue(endpoint=endpoint, request=request)
    messages.info(
        request,
        "Test delivery queued. Its result shows under Recent deliveries once it has been sent: "
        "refresh this page in a few seconds.",
    )
    return redirect("notifications:webhook_settings")
