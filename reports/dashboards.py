"""The national admin's home panel (accounts/dashboards.py): service health beside implementation
progress. It lives here because implementation progress is a report, and reports sit above the
apps whose records it counts."""

from django.urls import reverse

from accounts.dashboards import Figure, Panel, panel_register
from accounts.models import Organisation, Role
from accounts.requests import OrganisationRequest
from notifications.models import Delivery, DeliveryStatus, Notification, NotificationStatus
from reports.progress import go_live_totals


@panel_register(order=40, roles={Role.NATIONAL_ADMIN})
def national_admin_panel(request: OrganisationRequest) -> Panel:
    failed = Delivery.objects.filter(status=DeliveryStatus.FAILED).count()
    overdue = Notification.objects.filter(status=NotificationStatus.NEW, overdue_since__isnull=False).count()
    organisations = Organisation.objects.filter(is_active=True).count()
    live, not_live = go_live_totals()
    progress = reverse("reports:progress_organisations")
    return Panel(
        "Service health and implementation progress",
        [
            Figure(failed, "notification deliveries failed", reverse("notifications:deliveries_failed")),
            Figure(organisations, "active organisations", f"{reverse('administration:organisations')}?status=active"),
            # National admins see no child data: the figure opens the counts per local authority.
            Figure(
                overdue,
                "notifications overdue across all local authorities",
                f"{reverse('operations:service_health')}#overdue",
            ),
            Figure(live, "organisations live", f"{progress}?state=live"),
            Figure(not_live, "organisations not live yet", f"{progress}?state=not_live"),
        ],
    )
