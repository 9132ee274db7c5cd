"""A child's visit history: the newest 25 visits, read by every check, kept to 25 by the worker."""

import uuid

from django.db import transaction
from django.db.models import Case, When

from accounts.models import Organisation
from attendances.models import VISITS_KEPT, Visit
from core.compiled_queries import CompiledQuerySet
from cpis.resilience import broker_publish
from plans.models import Plan

# Compiled to SQL once per process (core/compiled_queries.py): they run on every check.
# visit_child_history_idx serves both: one child, newest first, 25 rows (26 with this form's).
_history_visits = CompiledQuerySet(
    lambda nhs_number: (
        Visit.objects.filter(nhs_number=nhs_number)
        .select_related("care_setting")
        .order_by("-arrived_at", "-id")[:VISITS_KEPT]
    ),
    placeholders={"nhs_number": str},
)
_form_visit_and_history = CompiledQuerySet(
    lambda nhs_number, idempotency_key: (
        Visit.objects.filter(nhs_number=nhs_number)
        .select_related("care_setting")
        .order_by(Case(When(check_token=idempotency_key, then=0), default=1), "-arrived_at", "-id")[: VISITS_KEPT + 1]
    ),
    placeholders={"nhs_number": str, "idempotency_key": uuid.UUID},
)


def visits_recent(nhs_number: str) -> list[Visit]:
    """The child's newest 25 visits, whether or not a plan is visible: the caller has checked."""
    return _history_visits(nhs_number=nhs_number)


def child_history(nhs_number: str, *, seen_from: Organisation) -> list[Visit]:
    """The child's last 25 visits, newest first, while any plan for the child is visible from
    `seen_from` (`PlanQuerySet.seen_from`); none otherwise (a history must not
    reveal a child that is no longer shared). Reads only: the caller audits, and decides who
    may read (the FHIR API's history rule, docs/fhir.md)."""
    if not Plan.objects.visible().seen_from(seen_from).of_subject(nhs_number).exists():
        return []
    visits = visits_recent(nhs_number)
    if seen_from.is_synthetic:
        # A conformance run is shown no real setting's visit, whatever number it was of.
        visits = [v for v in visits if v.care_setting.is_synthetic]
    return visits


def repeat_and_history(nhs_number: str, idempotency_key: uuid.UUID | None) -> tuple[Visit | None, list[Visit]]:
    """The visit this form already recorded (None if it is new) and the 25 newest others.

    One query, because it runs on every check: the form's own visit sorts first, then the
    newest. The worker keeps a child to about 25 visits, so the sort is over a handful of rows.
    """
    if idempotency_key is None:
        return None, visits_recent(nhs_number)
    rows = _form_visit_and_history(nhs_number=nhs_number, idempotency_key=idempotency_key)
    repeat = rows[0] if rows and rows[0].check_token == idempotency_key else None
    return repeat, [v for v in rows if v is not repeat][:VISITS_KEPT]


def visits_trim_on_commit(visit: Visit) -> None:
    """Asks the worker to trim after commit; a broker outage must never fail a check.

    The check is already committed when this runs: if Redis is down the clinician still gets
    the alert (robust: the error is logged, without child data), and the trim catches up at the
    child's next check, since every check over 25 asks again. No page shows more than 25 meanwhile.
    """
    from attendances.tasks import visits_trim

    visit_id = visit.pk
    # Through the broker's breaker: a frozen Redis costs one check one socket timeout, and the
    # checks after it nothing, rather than every check of a child with 25 visits its timeout.
    transaction.on_commit(lambda: broker_publish(visits_trim, (visit_id,)), robust=True)


def visit_history_trim(*, nhs_number: str) -> int:
    """Deletes all but the child's newest 25 visits; returns how many went. Safe to repeat."""
    keep = Visit.objects.filter(nhs_number=nhs_number).order_by("-arrived_at", "-id").values("pk")[:VISITS_KEPT]
    deleted, _ = Visit.objects.filter(nhs_number=nhs_number).exclude(pk__in=keep).delete()
    return deleted
