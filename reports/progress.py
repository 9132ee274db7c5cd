"""Implementation progress: each organisation's go-live state, derived from data alone.

A local authority is live when its contact details are set, it has at least one trained social
worker, and it uploaded plans in the last 30 days with at least 95% of rows accepted. A care
setting is live when it has at least one trained clinician and checked children in the last 30
days. Nothing here is about a child: the public page shows counts only.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.models import Membership, Organisation, OrganisationKind, Region, Role, SettingType, TrainingRecord
from audit.models import AuditAction, AuditEvent
from plans.models import PlanUpload, UploadStatus
from reports.metrics import ACCEPTANCE_TARGET

RECENT_DAYS = 30


@dataclass(frozen=True)
class Step:
    text: str
    done: bool


@dataclass(frozen=True)
class GoLive:
    organisation: Organisation
    steps: list[Step]

    @property
    def live(self) -> bool:
        return all(step.done for step in self.steps)

    @property
    def left(self) -> list[Step]:
        return [step for step in self.steps if not step.done]


def _trained_with(organisation_ids, roles) -> set[int]:
    """Ids of the organisations among `organisation_ids` with an active, currently trained user
    holding one of `roles`."""
    current = TrainingRecord.objects.filter(user=OuterRef("user_id"), expires_on__gte=timezone.localdate())
    return set(
        Membership.objects.filter(organisation_id__in=organisation_ids, role__in=roles, user__is_active=True)
        .filter(Exists(current))
        .values_list("organisation_id", flat=True)
    )


def _recent_good_uploads(organisation_ids) -> set[int]:
    since = timezone.now() - timedelta(days=RECENT_DAYS)
    good = set()
    for organisation_id, counts in PlanUpload.objects.filter(
        organisation_id__in=organisation_ids, status=UploadStatus.APPLIED, applied_at__gte=since
    ).values_list("organisation_id", "counts"):
        rows, accepted = (counts or {}).get("rows", 0), (counts or {}).get("accepted", 0)
        if rows and 100 * accepted / rows >= ACCEPTANCE_TARGET:
            good.add(organisation_id)
    return good


def _recent_checks(organisation_ids) -> set[int]:
    since = timezone.now() - timedelta(days=RECENT_DAYS)
    # One probe per organisation down its newest events (audit_org_time_idx), stopping at the
    # first check: a month of national checks is hundreds of thousands of rows to read for DISTINCT.
    checked = AuditEvent.objects.filter(
        organisation_id=OuterRef("pk"), action=AuditAction.CHILD_CHECKED, occurred_at__gte=since
    )
    return set(
        Organisation.objects.filter(pk__in=organisation_ids).filter(Exists(checked)).values_list("pk", flat=True)
    )


def go_live_states(organisations) -> list[GoLive]:
    """The go-live checklist of each local authority and care setting given, in a few queries
    whatever their number."""
    organisations = [o for o in organisations if o.kind != OrganisationKind.NATIONAL]
    la_ids = [o.pk for o in organisations if o.is_local_authority]
    setting_ids = [o.pk for o in organisations if o.is_care_setting]
    trained_social_workers = _trained_with(la_ids, [Role.SOCIAL_WORKER])
    uploads = _recent_good_uploads(la_ids)
    trained_clinicians = _trained_with(setting_ids, [Role.CLINICIAN, Role.SAFEGUARDING_LEAD])
    checks = _recent_checks(setting_ids)
    states = []
    for o in organisations:
        if o.is_local_authority:
            steps = [
                Step(
                    "Contact details for clinicians set (office hours, emergency duty, team mailbox)",
                    bool(o.office_hours_phone and o.emergency_duty_phone and o.team_mailbox),
                ),
                Step("At least one trained social worker", o.pk in trained_social_workers),
                Step(
                    f"Plans uploaded in the last {RECENT_DAYS} days with at least {ACCEPTANCE_TARGET:g}% of rows accepted",
                    o.pk in uploads,
                ),
            ]
        else:
            steps = [
                Step("At least one trained clinician or safeguarding lead", o.pk in trained_clinicians),
                Step(f"Children checked in the last {RECENT_DAYS} days", o.pk in checks),
            ]
        states.append(GoLive(o, steps))
    return states


REGION_NOT_SET = "Region not set"


def progress_counts() -> dict[str, list[dict]]:
    """For the public page: how many organisations are live, per kind (and setting type) and per
    NHS England region. Counts of organisations only, so nothing in it is about a person."""
    # A conformance run's synthetic organisations (suppliers/) are nobody's progress.
    states = go_live_states(
        Organisation.objects.filter(is_active=True, is_synthetic=False).exclude(kind=OrganisationKind.NATIONAL)
    )
    totals: Counter = Counter()
    live: Counter = Counter()
    regions: dict[str, Counter] = {}
    for state in states:
        o = state.organisation
        key = "Local authority" if o.is_local_authority else SettingType(o.setting_type).label
        totals[key] += 1
        live[key] += state.live
        region = regions.setdefault(Region(o.region).label if o.region else REGION_NOT_SET, Counter())
        prefix = "las" if o.is_local_authority else "settings"
        region[prefix] += 1
        region[f"{prefix}_live"] += state.live
    order = ["Local authority"] + [t.label for t in SettingType]
    region_order = [r.label for r in Region] + [REGION_NOT_SET]
    return {
        "by_kind": [{"kind": k, "organisations": totals[k], "live": live[k]} for k in order if totals.get(k)],
        "by_region": [
            {"region": r, **{k: regions[r][k] for k in ("las", "las_live", "settings", "settings_live")}}
            for r in region_order
            if r in regions
        ],
    }
