"""Implementation progress: each organisation's go-live state, derived from data alone.

A local authority is live when its contact details are set, it has at least one trained social
worker, and it uploaded plans in the last 30 days with at least 95% of rows accepted. A care
setting is live when it has at least one trained clinician and checked children in the last 30
days. Nothing here is about a child: the public page shows counts only.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils import timezone

from accounts.models import Membership, Organisation, OrganisationKind, Region, Role, SettingType, TrainingRecord
from audit.models import AuditAction, AuditEvent
from plans.models import PlanUpload, UploadStatus
from reports.metrics import ACCEPTANCE_TARGET
from reports.models import GoLiveCount, GoLiveRefresh, GoLiveState

RECENT_DAYS = 30
# Organisations a page of the national list shows: the page reads as many kept rows whatever
# the number of organisations.
PAGE_SIZE = 50


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


def _la_steps() -> list[str]:
    return [
        "Contact details for clinicians set (office hours, emergency duty, team mailbox)",
        "At least one trained social worker",
        f"Plans uploaded in the last {RECENT_DAYS} days with at least {ACCEPTANCE_TARGET:g}% of rows accepted",
    ]


def _setting_steps() -> list[str]:
    return ["At least one trained clinician or safeguarding lead", f"Children checked in the last {RECENT_DAYS} days"]


def _go_live(organisation: Organisation, done: Sequence[bool]) -> GoLive:
    texts = _la_steps() if organisation.is_local_authority else _setting_steps()
    return GoLive(organisation, [Step(text, bool(flag)) for text, flag in zip(texts, done, strict=True)])


def go_live_states(organisations) -> list[GoLive]:
    """The go-live checklist of each local authority and care setting given, in a few queries
    whatever their number: the one rule, which the kept states (go_live_refresh) are made by."""
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
            done = [
                bool(o.office_hours_phone and o.emergency_duty_phone and o.team_mailbox),
                o.pk in trained_social_workers,
                o.pk in uploads,
            ]
        else:
            done = [o.pk in trained_clinicians, o.pk in checks]
        states.append(_go_live(o, done))
    return states


# The kept states: each organisation's checklist as go_live_states made it at the last refresh.


def _organisations_to_report():
    # A conformance run's synthetic organisations (suppliers/) are nobody's progress.
    return Organisation.objects.filter(is_active=True, is_synthetic=False).exclude(kind=OrganisationKind.NATIONAL)


def go_live_refresh(organisation_ids: Iterable[int] | None = None) -> int:
    """Works out and keeps the go-live state of the given active organisations (default: every
    one, as beat does, which also marks the kept states fresh), then the counts per group;
    returns how many states it worked out.

    Idempotent: a second run writes the same rows. Safe beside another run (upserts, and the
    counts rewritten under a lock on the refresh's row). Refreshing some organisations only
    leaves the others' states as they were, and does not make them fresh.
    """
    organisations = _organisations_to_report()
    if organisation_ids is not None:
        organisations = organisations.filter(pk__in=list(organisation_ids))
    started = timezone.now()
    states = go_live_states(organisations)
    with transaction.atomic():
        # One refresh at a time rewrites the counts (none is read before the first full refresh).
        list(GoLiveRefresh.objects.select_for_update().filter(id=1))
        GoLiveState.objects.bulk_create(
            [
                GoLiveState(organisation=s.organisation, live=s.live, steps=[step.done for step in s.steps])
                for s in states
            ],
            update_conflicts=True,
            unique_fields=["organisation"],
            update_fields=["live", "steps"],
        )
        _counts_rewrite()
        if organisation_ids is None:
            GoLiveRefresh.objects.update_or_create(id=1, defaults={"refreshed_at": started})
    return len(states)


def _counts_rewrite() -> None:
    """GoLiveCount from the kept states of the active organisations: one grouped read of a row
    per organisation, done by the refresh so that no page does it."""
    groups = list(
        _organisations_to_report()
        .filter(go_live_state__isnull=False)
        .values_list("kind", "setting_type", "region")
        .annotate(total=Count("pk"), live_ones=Count("pk", filter=Q(go_live_state__live=True)))
        .order_by()
    )
    GoLiveCount.objects.bulk_create(
        [GoLiveCount(kind=k, setting_type=t, region=r, organisations=n, live=live) for k, t, r, n, live in groups],
        update_conflicts=True,
        unique_fields=["kind", "setting_type", "region"],
        update_fields=["organisations", "live"],
    )
    kept = {(k, t, r) for k, t, r, _, _ in groups}
    gone = [
        pk
        for pk, *group in GoLiveCount.objects.values_list("pk", "kind", "setting_type", "region")
        if tuple(group) not in kept
    ]
    GoLiveCount.objects.filter(pk__in=gone).delete()


def _kept_states_usable() -> bool:
    """Whether the kept states and counts answer: every organisation's refreshed together
    recently, so beat is running. Otherwise a page works every state out live (beat stopped, a
    fresh install, the demo): slower, never staler than three refresh intervals. An organisation
    added since is refreshed when it is saved (upload_saved, organisation_saved)."""
    fresh_since = timezone.now() - timedelta(seconds=3 * settings.GO_LIVE_REFRESH_INTERVAL)
    return GoLiveRefresh.objects.filter(refreshed_at__gte=fresh_since).exists()


def go_live_page(organisations, state: str, number) -> Page:
    """One page of the organisations' go-live states (a paginator's page of GoLive), only the
    live ones or the others if `state` is "live" or "not_live"; kept states where usable."""
    wanted = {"live": True, "not_live": False}.get(state)
    if _kept_states_usable():
        kept = organisations.select_related("go_live_state")
        if wanted is not None:
            kept = kept.filter(go_live_state__live=wanted)
        page = Paginator(kept, PAGE_SIZE).get_page(number)
        page.object_list = [_kept(o) for o in page.object_list]
        return page
    states = go_live_states(organisations)
    if wanted is not None:
        states = [s for s in states if s.live == wanted]
    return Paginator(states, PAGE_SIZE).get_page(number)


def _kept(organisation: Organisation) -> GoLive:
    try:
        return _go_live(organisation, organisation.go_live_state.steps)
    # Not kept yet (its save's refresh still to commit), or kept under a checklist changed since:
    # this one worked out live.
    except (GoLiveState.DoesNotExist, ValueError):
        return go_live_states([organisation])[0]


def go_live_totals() -> tuple[int, int]:
    """(live, not live yet) among the active organisations, for the national admin's home."""
    if _kept_states_usable():
        counts = GoLiveCount.objects.aggregate(organisations=Sum("organisations"), live_ones=Sum("live"))
        return counts["live_ones"] or 0, (counts["organisations"] or 0) - (counts["live_ones"] or 0)
    states = go_live_states(_organisations_to_report())
    live = sum(s.live for s in states)
    return live, len(states) - live


REGION_NOT_SET = "Region not set"


def _grouped_counts(organisations) -> list[tuple[str, str, str, int, int]]:
    """(kind, setting type, region, organisations, live) per group of the active organisations."""
    if _kept_states_usable():
        return list(GoLiveCount.objects.values_list("kind", "setting_type", "region", "organisations", "live"))
    totals: Counter = Counter()
    live: Counter = Counter()
    for state in go_live_states(organisations):
        group = (state.organisation.kind, state.organisation.setting_type, state.organisation.region)
        totals[group] += 1
        live[group] += state.live
    return [(*group, count, live[group]) for group, count in totals.items()]


def progress_counts() -> dict[str, list[dict]]:
    """For the public page: how many organisations are live, per kind (and setting type) and per
    NHS England region. Counts of organisations only, so nothing in it is about a person."""
    totals: Counter = Counter()
    live: Counter = Counter()
    regions: dict[str, Counter] = {}
    for kind, setting_type, region_code, organisations, live_ones in _grouped_counts(_organisations_to_report()):
        is_la = kind == OrganisationKind.LOCAL_AUTHORITY
        key = "Local authority" if is_la else SettingType(setting_type).label
        totals[key] += organisations
        live[key] += live_ones
        region = regions.setdefault(Region(region_code).label if region_code else REGION_NOT_SET, Counter())
        prefix = "las" if is_la else "settings"
        region[prefix] += organisations
        region[f"{prefix}_live"] += live_ones
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


def upload_saved(sender, instance: PlanUpload, **kwargs) -> None:
    """An applied upload can make its local authority live: its kept state is refreshed once the
    upload commits, instead of at beat's next refresh (connected in reports.apps)."""
    if instance.status == UploadStatus.APPLIED:
        transaction.on_commit(partial(go_live_refresh, [instance.organisation_id]), robust=True)


def organisation_saved(sender, instance: Organisation, **kwargs) -> None:
    """A new organisation, new contact details, or one made inactive: its kept state and the
    counts are refreshed once the change commits (connected in reports.apps)."""
    if instance.kind != OrganisationKind.NATIONAL:
        transaction.on_commit(partial(go_live_refresh, [instance.pk]), robust=True)
