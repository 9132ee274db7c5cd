"""Reads for the plans' pages: what a view shows beyond the one object its access helper opens."""

from collections.abc import Iterable
from typing import Any

from accounts.models import Organisation
from plans.models import Plan, PlanQuerySet, PlanUpload, UploadStatus

# The national record codes a PDS-verified upload answers (identity verification, through
# plans/uploads/verification.py), as the upload's report names them.
ROW_CODE_LABELS = {
    "CPR01": "no PDS record for the NHS number",
    "CPR02": "sensitive PDS record",
    "CPR03": "details do not match PDS",
    "CPR04": "old-style NHS number",
    "CPR05": "NHS number superseded",
}
GO_LIVE_MATCH_RATE = 0.95
_RECENT_UPLOADS = 10


def upload_match_rate(*, organisation: Organisation) -> dict[str, Any]:
    """The LA's match rate over its last applied uploads that PDS verified: children verified
    as a share of those checked (the 95% go-live rule is measured on this)."""
    checked = matched = uploads = 0
    recent = (
        PlanUpload.objects.filter(organisation=organisation, status=UploadStatus.APPLIED, counts__has_key="identity")
        .order_by("-uploaded_at", "-id")
        .values_list("counts", flat=True)[:_RECENT_UPLOADS]
    )
    for counts in recent:
        identity = counts["identity"]
        if identity.get("checked"):
            uploads += 1
            checked += identity["checked"]
            matched += identity.get("matched", 0)
    return {
        "match_rate": matched / checked if checked else None,
        "match_rate_uploads": uploads,
        "match_rate_checked": checked,
        "match_rate_matched": matched,
    }


def plans_of_local_authority(*, organisation: Organisation) -> PlanQuerySet:
    """Every plan the LA holds, shown or not: its plan managers and social workers search them."""
    return Plan.objects.for_local_authority(organisation)


def plan_ids_shown(*, plans: Iterable[Plan]) -> set[int]:
    """Which of these plans clinicians are shown today (the one visibility rule)."""
    return set(Plan.objects.filter(pk__in=[p.pk for p in plans]).visible().values_list("pk", flat=True))


def plan_is_shown(*, plan: Plan) -> bool:
    return plan.pk in plan_ids_shown(plans=[plan])


def uploads_recent(*, organisation: Organisation, limit: int = 20) -> list[PlanUpload]:
    """The LA's latest uploads for its upload page, without their files."""
    return list(
        PlanUpload.objects.filter(organisation=organisation).defer("content").select_related("uploaded_by")[:limit]
    )
