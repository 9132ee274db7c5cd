from datetime import timedelta
from typing import TYPE_CHECKING

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import F
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.access import role_required
from accounts.models import Role, SettingType
from accounts.requests import OrganisationRequest
from audit.models import AuditAction
from audit.services import audit_record
from core.dates import day_start
from notifications.access import (
    access_delivery_by_admin,
    access_notification_by_social_worker,
    deliveries_visible_to_admin,
    notifications_in_inbox,
)
from notifications.forms import AcknowledgeForm, AssignForm, InboxFilterForm
from notifications.models import DeliveryStatus, NotificationStatus
from notifications.selectors import inbox_care_settings
from notifications.services import (
    delivery_retry,
    notification_acknowledge,
    notification_assign,
    social_workers_of,
)
from plans.models import PlanType

if TYPE_CHECKING:
    from notifications.models import Notification

PAGE_SIZE = 50


# Work waiting to be acknowledged, most urgent first: the overdue (longest overdue first), then
# the rest oldest first, so the one that has waited longest is never eighth of eleven.
URGENT_FIRST = (F("overdue_since").asc(nulls_last=True), "first_attended_at", "id")


def _next_to_acknowledge(request: OrganisationRequest, *, after: "Notification") -> "Notification | None":
    waiting = notifications_in_inbox(request).filter(status=NotificationStatus.NEW).exclude(pk=after.pk)
    return waiting.order_by(*URGENT_FIRST).first()


def child_view_url(notification: "Notification") -> str:
    """The attendances app's child view for this notification."""
    return reverse("attendances:child_for_notification", kwargs={"notification_id": notification.pk})


@never_cache
@role_required(Role.SOCIAL_WORKER)
def inbox(request: OrganisationRequest):
    received = notifications_in_inbox(request)
    settings_choices = inbox_care_settings(received=received)
    form = InboxFilterForm(request.GET or None, settings_choices=settings_choices)
    notifications = received.none()
    status = "new"
    if form.is_valid() or not request.GET:
        filters = form.cleaned_data if form.is_bound else {}
        status = filters.get("status") or "new"
        notifications = received
        if status == "acknowledged":
            notifications = notifications.filter(status=NotificationStatus.ACKNOWLEDGED).order_by(
                "-acknowledged_at", "-id"
            )
        elif status == "overdue":
            notifications = notifications.filter(status=NotificationStatus.NEW, overdue_since__isnull=False).order_by(
                *URGENT_FIRST
            )
        else:
            notifications = notifications.filter(status=NotificationStatus.NEW).order_by(*URGENT_FIRST)
        if filters.get("date_from"):
            notifications = notifications.filter(last_attended_at__gte=day_start(filters["date_from"]))
        if filters.get("date_to"):
            notifications = notifications.filter(
                first_attended_at__lt=day_start(filters["date_to"] + timedelta(days=1))
            )
        if filters.get("plan_type"):
            notifications = notifications.with_plan_type(filters["plan_type"])
        if filters.get("setting"):
            notifications = notifications.filter(care_setting_id=filters["setting"])
        if filters.get("assigned") == "me":
            notifications = notifications.filter(assigned_to=request.user)
        if filters.get("acknowledged") == "today":
            notifications = notifications.filter(acknowledged_at__gte=day_start(timezone.localdate()))
    page = Paginator(
        notifications.select_related("care_setting", "assigned_to", "acknowledged_by"), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    audit_record(
        action=AuditAction.NOTIFICATION_INBOX_VIEWED,
        request=request,
        detail={"status": status, "page": page.number, "notification_ids": [n.pk for n in page.object_list]},
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "notifications/inbox.jinja",
        {
            "form": form,
            "status": status,
            "page": page,
            "query_without_page": query.urlencode(),
            "counts": {
                "new": received.filter(status=NotificationStatus.NEW).count(),
                "overdue": received.filter(status=NotificationStatus.NEW, overdue_since__isnull=False).count(),
            },
            "plan_labels": dict(PlanType.choices),
        },
        status=400 if form.is_bound and form.errors else 200,
    )


def _detail(request: OrganisationRequest, notification: "Notification", form: AcknowledgeForm, *, status: int = 200):
    return render(
        request,
        "notifications/detail.jinja",
        {
            "notification": notification,
            "form": form,
            "colleagues": social_workers_of(request.organisation),
            "next_notification": _next_to_acknowledge(request, after=notification)
            if notification.status == NotificationStatus.ACKNOWLEDGED
            else None,
            "child_view_url": child_view_url(notification),
            "plan_labels": dict(PlanType.choices),
            "setting_labels": dict(SettingType.choices),
            "role_labels": dict(Role.choices),
        },
        status=status,
    )


@never_cache
@role_required(Role.SOCIAL_WORKER)
def notification_detail(request: OrganisationRequest, notification_id: int):
    notification = access_notification_by_social_worker(request, notification_id)
    audit_record(
        action=AuditAction.NOTIFICATION_OPENED,
        request=request,
        nhs_number=notification.nhs_number,
        detail={"notification_id": notification.pk},
    )
    return _detail(request, notification, AcknowledgeForm())


@role_required(Role.SOCIAL_WORKER)
@require_POST
def notification_assign_view(request: OrganisationRequest, notification_id: int):
    notification = access_notification_by_social_worker(request, notification_id)
    colleagues = social_workers_of(request.organisation)
    form = AssignForm(request.POST, colleagues=colleagues)
    if not form.is_valid():
        messages.error(request, "Select a social worker in your team.")
        return redirect("notifications:notification_detail", notification_id=notification.pk)
    chosen = form.cleaned_data["assignee"]
    assignee = next((u for u in colleagues if u.pk == chosen), request.user)
    notification_assign(notification=notification, user=assignee, request=request)
    if assignee == request.user:
        messages.success(request, "The notification is assigned to you.")
    else:
        messages.success(request, f"The notification is assigned to {assignee.full_name}.")
    return redirect("notifications:notification_detail", notification_id=notification.pk)


@role_required(Role.SOCIAL_WORKER)
@require_POST
def notification_acknowledge_view(request: OrganisationRequest, notification_id: int):
    notification = access_notification_by_social_worker(request, notification_id)
    form = AcknowledgeForm(request.POST)
    if notification.status != NotificationStatus.NEW:
        messages.info(request, "This notification had already been acknowledged.")
        return redirect("notifications:notification_detail", notification_id=notification.pk)
    if not form.is_valid():
        return _detail(request, notification, form, status=400)
    if notification_acknowledge(
        notification=notification, user=request.user, note=form.cleaned_data["note"], request=request
    ):
        messages.success(request, "Notification acknowledged.")
    else:
        messages.info(request, "This notification had already been acknowledged.")
    return redirect("notifications:notification_detail", notification_id=notification.pk)


@never_cache
@role_required(Role.ORG_ADMIN, Role.NATIONAL_ADMIN)
def deliveries_failed(request: OrganisationRequest):
    failed = (
        deliveries_visible_to_admin(request)
        .filter(status=DeliveryStatus.FAILED)
        .select_related("notification__local_authority")
        .order_by("-failed_at", "-id")
    )
    page = Paginator(failed, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "notifications/deliveries_failed.jinja", {"page": page})


@role_required(Role.ORG_ADMIN, Role.NATIONAL_ADMIN)
@require_POST
def delivery_retry_view(request: OrganisationRequest, delivery_id: int):
    delivery = access_delivery_by_admin(request, delivery_id)
    if delivery_retry(delivery=delivery, request=request):
        messages.success(request, f"Delivery {delivery.pk} will be tried again now.")
    else:
        messages.info(request, f"Delivery {delivery.pk} is no longer failed.")
    return redirect("notifications:deliveries_failed")
