"""Writes to plans one at a time (the forms), the nightly jobs, and the LA's contact details.

Every write here and in plans/uploads/ takes the LA's plan lock first, so a form edit and
an upload, or two uploads, from one LA never interleave.
"""

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Organisation, User
from audit.models import AuditAction
from audit.services import audit_record
from plans import rules
from plans.models import (
    Plan,
    PlanChange,
    PlanChangeAction,
    PlanChangeSource,
    PlanQuerySet,
    PlansVersion,
    PlanType,
    eighteenth_birthday,
)

# pg_advisory_xact_lock's first key: "pl", so plan locks never collide with other apps' locks.
_PLAN_LOCK_NAMESPACE = 0x706C
# The fields a plan's history records; the upload key fields never change after creation.
HISTORY_FIELDS = (
    "family_name",
    "given_names",
    "date_of_birth",
    "end_date",
    "expected_due_date",
    "la_reference",
    "withdrawn",
)


def plans_lock_for_local_authority(*, organisation_id: int, write: bool = True) -> int:
    """Serialises every write to one LA's plans until the transaction ends, and returns how many
    transactions had written them before (the LA's `PlansVersion`). A writer (`write`) moves
    the version on, in the same transaction as its writes, so it counts only once committed;
    a reader (an upload's preview) takes the lock to see the plans and their version as one.

    SQLite (the demo without PostgreSQL) serialises all writers anyway.
    """
    assert transaction.get_connection().in_atomic_block, "take the plan lock inside a transaction"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_PLAN_LOCK_NAMESPACE, organisation_id])
        if not write:
            cursor.execute("SELECT version FROM plans_plansversion WHERE organisation_id = %s", [organisation_id])
            found = cursor.fetchone()
            return int(found[0]) if found else 0
        # Every writer of the LA's plans comes through here: a version moved on by a writer
        # that then changed nothing only costs a later apply its second check of the file.
        cursor.execute(
            """INSERT INTO plans_plansversion (organisation_id, version) VALUES (%s, 1)
            ON CONFLICT (organisation_id) DO UPDATE SET version = plans_plansversion.version + 1
            RETURNING version""",
            [organisation_id],
        )
        return int(cursor.fetchone()[0]) - 1


def plans_versions() -> dict[int, int]:
    """Every LA's plans version (see plans_lock_for_local_authority), by LA id."""
    return dict(PlansVersion.objects.values_list("organisation_id", "version"))


def _json_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return value


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {
        field: [_json_value(before[field]), _json_value(after[field])]
        for field in HISTORY_FIELDS
        if before[field] != after[field]
    }


def _snapshot(plan: Plan) -> dict[str, Any]:
    return {field: getattr(plan, field) for field in HISTORY_FIELDS}


def _change_record(
    *, plan: Plan, by: User | None, action: str, changes: dict[str, Any], source: str = PlanChangeSource.FORM
) -> None:
    PlanChange.objects.create(
        plan=plan,
        changed_by=by,
        changed_by_name=by.full_name if by else "CP-IS",
        source=source,
        action=action,
        changes=changes,
    )


def demographics_conflict(*, nhs_number: str, date_of_birth: date, exclude_plan_id: int | None = None) -> bool:
    """True when the service holds a different date of birth for this NHS number (any LA).

    Withdrawn plans do not count: they were recorded in error, often because of that date.
    """
    held = Plan.objects.filter(nhs_number=nhs_number, withdrawn=False).exclude(date_of_birth=date_of_birth)
    if exclude_plan_id is not None:
        held = held.exclude(pk=exclude_plan_id)
    return held.exists()


def _open_plan_exists(
    *, organisation_id: int, nhs_number: str, plan_type: str, exclude_plan_id: int | None = None
) -> bool:
    others = Plan.objects.filter(
        organisation_id=organisation_id,
        nhs_number=nhs_number,
        plan_type=plan_type,
        end_date__isnull=True,
        withdrawn=False,
    )
    if exclude_plan_id is not None:
        others = others.exclude(pk=exclude_plan_id)
    return others.exists()


def plan_rules_check(*, plan: Plan, today: date | None = None) -> None:
    """The plan rules (plans/rules.py) for one plan from a form; raises ValidationError by field.

    1. the rules of the plan itself, each field's first broken rule on that field;
    2. then, once those pass, the rules against the plans held: a different date of birth for
       the NHS number, another open plan of the type, a plan with the same key.
    The upload applies the same table in plans/upload_rows.py and its staging SQL.
    """
    today = today or timezone.localdate()
    errors: dict[str, str] = {}
    for broken in rules.row_rules_broken(
        date_of_birth=plan.date_of_birth,
        plan_type=plan.plan_type,
        start_date=plan.start_date,
        end_date=plan.end_date,
        expected_due_date=plan.expected_due_date,
        withdrawn=plan.withdrawn,
        today=today,
    ):
        errors.setdefault(str(broken.rule.field), broken.message)
    if errors:
        raise ValidationError(errors)
    held = _held_rule_broken(plan)
    if held is not None:
        raise ValidationError({str(held.field): held.message})


def _held_rule_broken(plan: Plan) -> rules.PlanRule | None:
    if demographics_conflict(nhs_number=plan.nhs_number, date_of_birth=plan.date_of_birth, exclude_plan_id=plan.pk):
        return rules.BIRTH_DATE_CONFLICT
    if (
        plan.end_date is None
        and not plan.withdrawn
        and _open_plan_exists(
            organisation_id=plan.organisation_id,
            nhs_number=plan.nhs_number,
            plan_type=plan.plan_type,
            exclude_plan_id=plan.pk,
        )
    ):
        return rules.OPEN_PLAN_HELD
    same_key = Plan.objects.filter(
        organisation_id=plan.organisation_id,
        nhs_number=plan.nhs_number,
        plan_type=plan.plan_type,
        start_date=plan.start_date,
    )
    if same_key.exclude(pk=plan.pk).exists():
        return rules.KEY_HELD
    return None


@transaction.atomic
def plan_create(*, organisation: Organisation, by: User, request: HttpRequest | None = None, **fields: Any) -> Plan:
    plans_lock_for_local_authority(organisation_id=organisation.pk)
    plan = Plan(organisation=organisation, created_by_name=by.full_name, created_source=PlanChangeSource.FORM, **fields)
    plan_rules_check(plan=plan)
    plan.save()
    audit_record(
        action=AuditAction.PLAN_CREATED, request=request, user=by, organisation=organisation,
        nhs_number=plan.nhs_number, detail={"plan_id": plan.pk, "plan_type": plan.plan_type},
    )  # fmt: skip
    return plan


@transaction.atomic
def plan_update(*, plan: Plan, by: User, request: HttpRequest | None = None, **fields: Any) -> Plan:
    """Changes names, date of birth, dates or reference; the upload key cannot change."""
    plans_lock_for_local_authority(organisation_id=plan.organisation_id)
    plan = Plan.objects.select_for_update().get(pk=plan.pk)
    before = _snapshot(plan)
    for name, value in fields.items():
        setattr(plan, name, value)
    plan_rules_check(plan=plan)
    changes = _changes(before, _snapshot(plan))
    if not changes:
        return plan
    action = PlanChangeAction.ENDED if before["end_date"] is None and plan.end_date else PlanChangeAction.UPDATED
    plan.updated_at = timezone.now()
    plan.save()
    _change_record(plan=plan, by=by, action=action, changes=changes)
    audit_record(
        action=AuditAction.PLAN_ENDED if action == PlanChangeAction.ENDED else AuditAction.PLAN_UPDATED,
        request=request, user=by, organisation=plan.organisation, nhs_number=plan.nhs_number,
        detail={"plan_id": plan.pk, "fields": sorted(changes)},
    )  # fmt: skip
    return plan


def plan_end(*, plan: Plan, end_date: date, by: User, request: HttpRequest | None = None) -> Plan:
    return plan_update(plan=plan, by=by, request=request, end_date=end_date)


@transaction.atomic
def plan_withdraw(*, plan: Plan, by: User, request: HttpRequest | None = None) -> Plan:
    """Recorded in error: the plan is never shown again, and is purged after the retention."""
    plans_lock_for_local_authority(organisation_id=plan.organisation_id)
    plan = Plan.objects.select_for_update().get(pk=plan.pk)
    if plan.withdrawn:
        return plan
    before = _snapshot(plan)
    plan.withdrawn = True
    plan.withdrawn_on = timezone.localdate()
    plan.updated_at = timezone.now()
    plan.save()
    _change_record(plan=plan, by=by, action=PlanChangeAction.WITHDRAWN, changes=_changes(before, _snapshot(plan)))
    audit_record(
        action=AuditAction.PLAN_WITHDRAWN, request=request, user=by, organisation=plan.organisation,
        nhs_number=plan.nhs_number, detail={"plan_id": plan.pk},
    )  # fmt: skip
    return plan


def plans_end_at_eighteen(*, today: date | None = None) -> int:
    """Nightly: ends every open CPP and LAC whose child has turned 18, on the 18th birthday.

    Runs per LA under that LA's plan lock, so it never interleaves with an upload.
    """
    today = today or timezone.localdate()
    # 18 years are at least 18 * 365 days, so this is a superset; the exact birthday is checked below.
    candidates = Plan.objects.filter(
        plan_type__in=[PlanType.CPP, PlanType.LAC],
        end_date__isnull=True,
        withdrawn=False,
        date_of_birth__lte=today - timedelta(days=18 * 365),
    )
    ended = 0
    for organisation_id in candidates.values_list("organisation_id", flat=True).distinct().order_by():
        with transaction.atomic():
            plans_lock_for_local_authority(organisation_id=organisation_id)
            for plan in candidates.filter(organisation_id=organisation_id).select_for_update():
                adult_on = eighteenth_birthday(plan.date_of_birth)
                if adult_on > today:
                    continue
                before = _snapshot(plan)
                plan.end_date = max(adult_on, plan.start_date)
                plan.updated_at = timezone.now()
                plan.save(update_fields=["end_date", "updated_at"])
                PlanChange.objects.create(
                    plan=plan,
                    changed_by_name="CP-IS",
                    source=PlanChangeSource.SYSTEM,
                    action=PlanChangeAction.ENDED_AT_18,
                    changes=_changes(before, _snapshot(plan)),
                )
                ended += 1
    if ended:
        audit_record(action=AuditAction.PLANS_ENDED_AT_18, detail={"count": ended})
    return ended


def plans_purgeable(*, today: date | None = None) -> PlanQuerySet:
    """Plans no clinician has been shown for at least PLAN_RETENTION_DAYS.

    A plan invisible on (today - retention) has been invisible at least that long, because
    visibility only ever runs out with time; a withdrawn plan counts from its withdrawal.
    """
    today = today or timezone.localdate()
    cutoff = today - timedelta(days=settings.PLAN_RETENTION_DAYS)
    ended_long_ago = Plan.objects.filter(withdrawn=False).invisible(today=cutoff)
    return Plan.objects.filter(Q(pk__in=ended_long_ago.values("pk")) | Q(withdrawn=True, withdrawn_on__lte=cutoff))


def plans_purge(*, today: date | None = None) -> int:
    """Nightly: deletes plans past their retention, with their history (SPEC 2 "Plans")."""
    deleted = 0
    for organisation_id in plans_purgeable(today=today).values_list("organisation_id", flat=True).distinct().order_by():
        with transaction.atomic():
            plans_lock_for_local_authority(organisation_id=organisation_id)
            count, _ = plans_purgeable(today=today).filter(organisation_id=organisation_id).delete()
            deleted += count
    if deleted:
        audit_record(action=AuditAction.PLANS_PURGED, detail={"rows": deleted})
    return deleted


def la_contacts_update(
    *,
    organisation: Organisation,
    office_hours_phone: str,
    emergency_duty_phone: str,
    team_mailbox: str,
    by: User,
    request: HttpRequest | None = None,
) -> Organisation:
    before = (organisation.office_hours_phone, organisation.emergency_duty_phone, organisation.team_mailbox)
    organisation.office_hours_phone = office_hours_phone
    organisation.emergency_duty_phone = emergency_duty_phone
    organisation.team_mailbox = team_mailbox
    organisation.full_clean()
    organisation.save(update_fields=["office_hours_phone", "emergency_duty_phone", "team_mailbox"])
    changed = [
        name
        for name, old, new in zip(
            ("office_hours_phone", "emergency_duty_phone", "team_mailbox"),
            before,
            (office_hours_phone, emergency_duty_phone, team_mailbox),
            strict=True,
        )
        if old != new
    ]
    audit_record(
        action=AuditAction.LA_CONTACTS_UPDATED, request=request, user=by, organisation=organisation,
        detail={"fields": changed},
    )  # fmt: skip
    return organisation
