"""What the privacy pages read: alerts, their evidence (masked until investigated), counts, and
everything the service holds about one child for a "who has looked" report."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from accounts.models import Membership, Organisation, Role, User
from attendances.models import Visit
from audit.masking import nhs_number_masked
from audit.models import AuditEvent
from identity.models import VerifiedIdentity
from notifications.models import Notification
from plans.models import Plan
from privacy.models import Alert, AlertOutcome, AlertRule, AlertStatus


def _privacy_officers(**where) -> QuerySet[Membership]:
    return Membership.objects.filter(role=Role.PRIVACY_OFFICER, user__is_active=True, **where)


def alerts_escalated() -> QuerySet[Alert]:
    """The alerts nobody at their organisation may review: about a privacy officer there, when
    no other privacy officer is (docs/privacy.md "Escalation"). The national admins review
    them. Worked out when read, so appointing a second officer hands them back."""
    subject_is_officer = Exists(_privacy_officers(organisation=OuterRef("organisation"), user=OuterRef("user")))
    another_officer = Exists(_privacy_officers(organisation=OuterRef("organisation")).exclude(user=OuterRef("user")))
    return Alert.objects.filter(subject_is_officer).exclude(another_officer)


def alerts_escalated_not_closed(*, reviewer: User) -> list[Alert]:
    return list(
        alerts_escalated()
        .exclude(user=reviewer)
        .exclude(status=AlertStatus.CLOSED)
        .select_related("user", "organisation")
    )


def alerts_for_officer(*, organisation: Organisation, officer: User) -> QuerySet[Alert]:
    # privacy_alert_org_status_idx: the organisation's alerts by status, newest first.
    return Alert.objects.filter(organisation=organisation).exclude(user=officer).select_related("user")


def alerts_not_closed(*, organisation: Organisation, officer: User) -> list[Alert]:
    return list(alerts_for_officer(organisation=organisation, officer=officer).exclude(status=AlertStatus.CLOSED))


@dataclass(frozen=True)
class RuleCounts:
    rule: str
    label: str
    open: int
    investigating: int
    no_concern: int
    concern: int


def _counts(alerts: QuerySet[Alert], keys: tuple[str, ...]) -> QuerySet:
    return alerts.values(*keys).annotate(
        open=Count("id", filter=Q(status=AlertStatus.OPEN)),
        investigating=Count("id", filter=Q(status=AlertStatus.INVESTIGATING)),
        no_concern=Count("id", filter=Q(outcome=AlertOutcome.NO_CONCERN)),
        concern=Count("id", filter=Q(outcome=AlertOutcome.CONCERN)),
    )


def rule_counts(*, organisation: Organisation) -> list[RuleCounts]:
    """The organisation's alerts by rule and state: the outcomes report."""
    found = {row["rule"]: row for row in _counts(Alert.objects.filter(organisation=organisation), ("rule",))}
    return [
        RuleCounts(
            rule=rule.value,
            label=rule.label,
            **{k: found.get(rule.value, {}).get(k, 0) for k in ("open", "investigating", "no_concern", "concern")},
        )
        for rule in AlertRule
    ]


@dataclass(frozen=True)
class OrganisationRuleCounts:
    organisation: Organisation
    rules: list[RuleCounts]


def national_counts() -> list[OrganisationRuleCounts]:
    """Every organisation's alerts by rule and state: counts only, never who or which child."""
    rows = list(_counts(Alert.objects.all(), ("organisation_id", "rule")))
    organisations = {o.pk: o for o in Organisation.objects.filter(pk__in={r["organisation_id"] for r in rows})}
    by_organisation: dict[int, dict[str, dict]] = {}
    for row in rows:
        by_organisation.setdefault(row["organisation_id"], {})[row["rule"]] = row
    result = []
    for pk, rules in sorted(by_organisation.items(), key=lambda item: organisations[item[0]].name):
        result.append(
            OrganisationRuleCounts(
                organisation=organisations[pk],
                rules=[
                    RuleCounts(
                        rule=rule.value,
                        label=rule.label,
                        **{k: rules[rule.value][k] for k in ("open", "investigating", "no_concern", "concern")},
                    )
                    for rule in AlertRule
                    if rule.value in rules
                ],
            )
        )
    return result


@dataclass(frozen=True)
class EvidenceRow:
    at: datetime
    organisation: str
    action: str
    plan_found: bool
    nhs_number: str


def alert_evidence(alert: Alert) -> list[EvidenceRow]:
    """The checks behind the alert, NHS numbers read from the audit log and masked to their last
    four digits while the alert is open (no investigation with a reason yet)."""
    entries = alert.evidence if isinstance(alert.evidence, list) else []
    ids = [e["event_id"] for e in entries]
    times = [datetime.fromisoformat(e["at"]) for e in entries]
    events: dict[int, AuditEvent] = {}
    if ids:
        # The times bound the partitions read; the ids pick the rows.
        events = {
            e.pk: e
            for e in AuditEvent.objects.filter(pk__in=ids, occurred_at__gte=min(times), occurred_at__lte=max(times))
        }
    names = dict(Organisation.objects.filter(pk__in={e["organisation_id"] for e in entries}).values_list("pk", "name"))
    rows = []
    for entry, at in zip(entries, times, strict=True):
        event = events.get(entry["event_id"])
        number = event.nhs_number if event else ""
        rows.append(
            EvidenceRow(
                at=at,
                organisation=names.get(entry["organisation_id"], ""),
                action=event.get_action_display() if event else entry["action"],
                plan_found=entry["plan_found"],
                nhs_number=number if alert.unmasked else nhs_number_masked(number),
            )
        )
    return rows


@dataclass
class ChildRecordReport:
    """Everything the service holds about one child for one organisation, and every access."""

    nhs_number: str
    plans: list[Plan]
    visits: list[Visit]
    notifications: list[Notification]
    identity: VerifiedIdentity | None
    accesses: list[AuditEvent]
    held: bool


def child_record_report(*, nhs_number: str, organisation: Organisation) -> ChildRecordReport:
    """A local authority's report covers its own children (those it holds or held a plan for):
    their plans with history, visits, its notifications and their acknowledgement, the identity
    check, and every access to the child's record by anyone. A care setting's covers the visits
    to it and its own organisation's accesses only."""
    accesses = AuditEvent.objects.filter(nhs_number=nhs_number).select_related("user", "organisation")
    if organisation.is_local_authority:
        plans = list(Plan.objects.filter(organisation=organisation, nhs_number=nhs_number).prefetch_related("changes"))
        if not plans:
            return ChildRecordReport(nhs_number, [], [], [], None, [], held=False)
        return ChildRecordReport(
            nhs_number=nhs_number,
            plans=plans,
            visits=list(Visit.objects.filter(nhs_number=nhs_number).select_related("care_setting")),
            notifications=list(
                Notification.objects.filter(local_authority=organisation, nhs_number=nhs_number)
                .select_related("care_setting", "acknowledged_by")
                .order_by("-created_at")
            ),
            identity=VerifiedIdentity.objects.filter(nhs_number=nhs_number).first(),
            accesses=list(accesses.order_by("-occurred_at", "-id")),
            held=True,
        )
    own = list(accesses.filter(organisation=organisation).order_by("-occurred_at", "-id"))
    visits = list(Visit.objects.filter(nhs_number=nhs_number, care_setting=organisation))
    return ChildRecordReport(nhs_number, [], visits, [], None, own, held=bool(own or visits))
