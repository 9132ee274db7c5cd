"""The home page's panel for a social worker's inbox (accounts/dashboards.py)."""

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from accounts.dashboards import Figure, Panel, panel_register
from accounts.models import Role
from accounts.requests import OrganisationRequest
from core.dates import day_start
from notifications.models import Notification, NotificationStatus


@panel_register(order=10, roles={Role.SOCIAL_WORKER})
def social_worker_panel(request: OrganisationRequest) -> Panel:
    inbox = reverse("notifications:inbox")
    received = Notification.objects.in_inbox_of(request.organisation)
    new = received.filter(status=NotificationStatus.NEW)
    counts = new.aggregate(
        new=Count("id"),
        overdue=Count("id", filter=Q(overdue_since__isnull=False)),
        mine=Count("id", filter=Q(assigned_to=request.user)),
    )
    acknowledged_today = received.filter(
        status=NotificationStatus.ACKNOWLEDGED, acknowledged_at__gte=day_start(timezone.localdate())
    ).count()
    return Panel(
        "Notifications",
        [
            Figure(counts["new"], "new notifications", f"{inbox}?status=new"),
            Figure(counts["overdue"], "overdue", f"{inbox}?status=overdue"),
            Figure(counts["mine"], "assigned to you", f"{inbox}?status=new&assigned=me"),
            Figure(acknowledged_today, "acknowledged today", f"{inbox}?status=acknowledged&acknowledged=today"),
        ],
    )
