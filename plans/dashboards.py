"""The home page's panel for a plan manager (accounts/dashboards.py)."""

from datetime import timedelta

from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from accounts.dashboards import Figure, Panel, panel_register
from accounts.models import Role
from accounts.requests import OrganisationRequest
from core.dates import years_before
from core.formatting import datetime_format
from plans.models import Plan, PlanType, PlanUpload


@panel_register(order=20, roles={Role.PLAN_MANAGER})
def plan_manager_panel(request: OrganisationRequest) -> Panel:
    organisation = request.organisation
    plans = reverse("plans:list")
    today = timezone.localdate()
    open_plans = Plan.objects.for_local_authority(organisation).filter(end_date__isnull=True, withdrawn=False)
    by_type = dict(open_plans.values_list("plan_type").annotate(n=Count("id")).order_by())
    labels = {
        PlanType.CPP: "open Child Protection Plans",
        PlanType.LAC: "Looked After Children",
        PlanType.UCPP: "open Unborn Child Protection Plans",
    }
    figures = [Figure(by_type.get(t, 0), labels[t], f"{plans}?status=open&plan_type={t}") for t in PlanType]
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
    note, detail = "", None
    if last is not None:
        detail = reverse("plans:upload_detail", kwargs={"upload_id": last.pk})
        rejected = (last.counts or {}).get("rejected", 0)
        figures.append(Figure(rejected, "rejected rows to fix in the last upload", detail))
        result = f"{last.file_code}: {last.file_message}" if last.file_code else last.get_status_display()
        note = f"Last upload {last.filename}, {datetime_format(last.uploaded_at)}. {result}"
    else:
        note = "No plan file has been uploaded yet."
    return Panel("Plans", figures, note=note, note_href=detail)
