"""The home page's figures for each role: what is waiting for this person, each figure a link
to the list it counts.

One function per role, each a handful of COUNT queries scoped to the current organisation;
the home page shows the panels for the roles the person holds and may use (see may_use).
Figures count; they never name a child.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Count, Max, Q
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.date_ranges import day_start
from accounts.models import Invitation, Membership, Organisation, Role, User


@dataclass
class Figure:
    value: int | str
    label: str
    href: str | None = None


@dataclass
class Panel:
    heading: str
    figures: list[Figure] = field(default_factory=list)
    note: str = ""


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def social_worker_panel(request) -> Panel:
    from notifications.models import Notification, NotificationStatus

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


def plan_manager_panel(request) -> Panel:
    from plans.models import Plan, PlanType, PlanUpload

    organisation = request.organisation
    plans = reverse("plans:list")
    today = timezone.localdate()
    open_plans = Plan.objects.for_local_authority(organisation).filter(end_date__isnull=True, withdrawn=False)
    by_type = dict(open_plans.values_list("plan_type").annotate(n=Count("id")).order_by())
    labels: dict[str, str] = {
        PlanType.CPP: "open Child Protection Plans",
        PlanType.LAC: "Looked After Children",
        PlanType.UCPP: "open Unborn Child Protection Plans",
    }
    figures = [Figure(by_type.get(t, 0), labels[t], f"{plans}?status=open&plan_type={t}") for t in PlanType.values]
    ending = Plan.objects.for_local_authority(organisation).filter(
        withdrawn=False, end_date__gt=today, end_date__lte=today + timedelta(days=30)
    )
    figures.append(Figure(ending.count(), "plans ending in the next 30 days", f"{plans}?status=ending_soon"))
    turning = open_plans.filter(
        plan_type__in=[PlanType.CPP, PlanType.LAC],
        date_of_birth__gt=years_before(today, 18),
        date_of_birth__lte=years_before(today + timedelta(days=30), 18),
    )
    figures.append(Figure(turning.count(), "18th birthdays in the next 30 days", f"{plans}?status=turning_18"))
    last = PlanUpload.objects.filter(organisation=organisation).exclude(status="dry_run").first()
    note = ""
    if last is not None:
        detail = reverse("plans:upload_detail", kwargs={"upload_id": last.pk})
        rejected = (last.counts or {}).get("rejected", 0)
        figures.append(Figure(rejected, "rejected rows to fix in the last upload", detail))
        result = f"{last.file_code}: {last.file_message}" if last.file_code else last.get_status_display()
        uploaded = timezone.localtime(last.uploaded_at)
        note = f"Last upload {last.filename}, {uploaded:%-d %b %Y %H:%M}. {result}"
    else:
        note = "No plan file has been uploaded yet."
    return Panel("Plans", figures, note=note)


def org_admin_panel(request) -> Panel:
    organisation = request.organisation
    users = reverse("administration:users")
    review = reverse("administration:access_review", kwargs={"organisation_id": organisation.pk})
    member_ids = list(Membership.objects.filter(organisation=organisation).values_list("user_id", flat=True).distinct())
    today = timezone.localdate()
    active = User.objects.filter(pk__in=member_ids, is_active=True)
    expiring = (
        active.annotate(expires=Max("training_records__expires_on"))
        .filter(expires__gte=today, expires__lte=today + timedelta(days=30))
        .count()
    )
    with_2fa = TOTPDevice.objects.filter(user__in=active, confirmed=True).values("user_id").distinct().count()
    pending = Invitation.objects.pending().filter(organisation=organisation).count()
    return Panel(
        "Your organisation's users",
        [
            Figure(active.count(), "active users", users),
            Figure(expiring, "with training expiring in the next 30 days", review),
            Figure(active.count() - with_2fa, "without two-factor authentication", review),
            Figure(pending, "invitations not yet accepted", users),
        ],
    )


def national_admin_panel(request) -> Panel:
    from notifications.models import Delivery, DeliveryStatus, Notification, NotificationStatus

    failed = Delivery.objects.filter(status=DeliveryStatus.FAILED).count()
    overdue = Notification.objects.filter(status=NotificationStatus.NEW, overdue_since__isnull=False).count()
    organisations = Organisation.objects.filter(is_active=True).count()
    return Panel(
        "Service health",
        [
            Figure(failed, "notification deliveries failed", reverse("notifications:deliveries_failed")),
            Figure(organisations, "active organisations", reverse("administration:organisations")),
            # No national list of notifications exists (they are each LA's); the count alone.
            Figure(overdue, "notifications overdue across all local authorities"),
        ],
    )


def checker_panel(request) -> Panel:
    from attendances.models import Visit

    today = timezone.localdate()
    mine = Visit.objects.filter(
        checked_by=request.user, care_setting=request.organisation, recorded_at__gte=day_start(today)
    ).count()
    # A count only: a list of the children checked would put child data on the home page.
    return Panel("Your checks", [Figure(mine, "children on a plan you checked today")])


# (roles, panel): a person holding several roles sees each panel once, in this order.
PANELS = [
    (frozenset({Role.SOCIAL_WORKER}), social_worker_panel),
    (frozenset({Role.PLAN_MANAGER}), plan_manager_panel),
    (frozenset({Role.ORG_ADMIN}), org_admin_panel),
    (frozenset({Role.NATIONAL_ADMIN}), national_admin_panel),
    (frozenset({Role.CLINICIAN, Role.SAFEGUARDING_LEAD}), checker_panel),
]


def panels_for(request) -> list[Panel]:
    from accounts.access import may_use

    if request.organisation is None:
        return []
    return [panel(request) for roles, panel in PANELS if may_use(request, roles)]
