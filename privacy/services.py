"""Writes of the privacy app: alerts raised by the scan, investigations and outcomes, the weekly
e-mail. Each is audited; notes and reasons stay on the alert, never in the audit detail."""

from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Membership, Organisation, Role, User
from audit.models import AuditAction
from audit.services import audit_record, audit_records_by_system
from privacy.models import Alert, AlertOutcome, AlertScan, AlertStatus, OpenAlertsEmail
from privacy.rules import Check, Finding, findings_for
from privacy.scan import history_load, new_checks
from privacy.selectors import ChildRecordReport, child_record_report


def _evidence(checks: list[Check]) -> list[dict[str, Any]]:
    # Ids, times and codes: the NHS numbers are read from the audit log when shown (masked).
    return [
        {
            "event_id": c.id,
            "at": c.at.isoformat(),
            "organisation_id": c.organisation_id,
            "action": c.action,
            "plan_found": c.plan_found,
        }
        for c in checks
    ]


def _alerts_raise(findings: list[Finding]) -> int:
    """Raises each finding's alert, or adds its new evidence to the open one with the same key;
    returns the alerts raised. In a few queries however many findings: a scan of a busy day
    raises dozens. Scans never run side by side (the scan's row is locked), so no other
    transaction raises the same alert in between."""
    if not findings:
        return 0
    existing = {
        (a.user_id, a.rule, a.dedupe_key): a
        for a in Alert.objects.select_for_update().filter(
            user_id__in={f.user_id for f in findings},
            rule__in={f.rule for f in findings},
            dedupe_key__in={f.dedupe_key for f in findings},
        )
    }
    new: dict[tuple[int, str, str], Alert] = {}
    extended: dict[int, Alert] = {}
    for finding in findings:
        key = (finding.user_id, finding.rule, finding.dedupe_key)
        alert = existing.get(key) or new.get(key)
        if alert is None:
            new[key] = Alert(
                user_id=finding.user_id,
                rule=finding.rule,
                dedupe_key=finding.dedupe_key,
                organisation_id=finding.organisation_id,
                explanation=finding.explanation,
                evidence=_evidence(finding.evidence),
            )
        elif alert.status == AlertStatus.OPEN:
            known = {e["event_id"] for e in alert.evidence}
            added = [e for e in _evidence(finding.evidence) if e["event_id"] not in known]
            if added:
                alert.evidence = alert.evidence + added
                alert.explanation = finding.explanation
                if alert.pk is not None:
                    extended[alert.pk] = alert
    if extended:
        Alert.objects.bulk_update(list(extended.values()), ["evidence", "explanation"])
    raised = Alert.objects.bulk_create(list(new.values()))
    # Not the user the alert is about: national admins read every organisation's audit log and
    # must learn counts only (the alert, which they cannot open, names them).
    audit_records_by_system(
        action=AuditAction.PRIVACY_ALERT_RAISED,
        events=[(a.organisation_id, {"alert_id": a.pk, "rule": a.rule}) for a in raised],
    )
    return len(raised)


def alerts_scan(*, now: datetime | None = None) -> int:
    """Runs the rules over the checks recorded since the last scan; returns the alerts raised.

    1. lock the scan's one row, so two beats (or a beat and a manual run) never scan twice;
    2. read the checks in (last scan, now − PRIVACY_SCAN_LAG_SECONDS] — the lag lets a check
       whose transaction was still open be read by the next scan instead of never;
    3. read their users' history, run the enabled rules, raise or extend alerts;
    4. move the scan on, in the same transaction as the alerts.
    A first scan looks back one shift.
    """
    now = now or timezone.now()
    end = now - timedelta(seconds=settings.PRIVACY_SCAN_LAG_SECONDS)
    with transaction.atomic():
        scan, _ = AlertScan.objects.select_for_update().get_or_create(
            id=1, defaults={"scanned_until": end - timedelta(hours=settings.PRIVACY_SHIFT_HOURS)}
        )
        if end <= scan.scanned_until:
            return 0
        new = new_checks(after=scan.scanned_until, until=end)
        raised = 0
        if new:
            history = history_load(new, after=scan.scanned_until, end=end)
            raised = _alerts_raise(findings_for(new, history))
        scan.scanned_until = end
        scan.save(update_fields=["scanned_until"])
    return raised


@transaction.atomic
def investigation_open(*, alert: Alert, by: User, reason: str, request: HttpRequest | None = None) -> Alert:
    """Opens the investigation of an open alert: from now on its evidence shows NHS numbers."""
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.user_id == by.pk:
        raise ValidationError("You cannot review your own activity. Another privacy officer must.", code="own_activity")
    if alert.status != AlertStatus.OPEN:
        raise ValidationError("This alert is already being investigated.", code="not_open")
    if not reason.strip():
        raise ValidationError("Enter why you are opening an investigation", code="reason_required")
    alert.status = AlertStatus.INVESTIGATING
    alert.investigation_reason = reason.strip()
    alert.investigated_by = by
    alert.investigated_at = timezone.now()
    alert.save(update_fields=["status", "investigation_reason", "investigated_by", "investigated_at"])
    audit_record(
        action=AuditAction.PRIVACY_INVESTIGATION_OPENED,
        request=request,
        user=by,
        detail={"alert_id": alert.pk, "rule": alert.rule},
    )
    return alert


@transaction.atomic
def alert_close(*, alert: Alert, by: User, outcome: str, note: str, request: HttpRequest | None = None) -> Alert:
    """Records the outcome of an investigated alert (no concern or concern, with a note)."""
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.user_id == by.pk:
        raise ValidationError("You cannot review your own activity. Another privacy officer must.", code="own_activity")
    if alert.status != AlertStatus.INVESTIGATING:
        raise ValidationError("Open an investigation before recording an outcome.", code="not_investigating")
    if outcome not in AlertOutcome.values:
        raise ValidationError("Select an outcome", code="outcome_required")
    alert.status = AlertStatus.CLOSED
    alert.outcome = outcome
    alert.outcome_note = note.strip()
    alert.closed_by = by
    alert.closed_at = timezone.now()
    alert.save(update_fields=["status", "outcome", "outcome_note", "closed_by", "closed_at"])
    audit_record(
        action=AuditAction.PRIVACY_ALERT_CLOSED,
        request=request,
        user=by,
        detail={"alert_id": alert.pk, "rule": alert.rule, "outcome": outcome},
    )
    return alert


def open_alerts_email_send() -> int:
    """E-mails each organisation's privacy officers how many alerts are open there: a count
    only, no user, child or rule, since e-mail leaves the service. Once a week per officer,
    however often it runs. Returns the e-mails sent."""
    today = timezone.localdate()
    week_starting = today - timedelta(days=today.weekday())
    # Per organisation and the user each alert is about: an officer's count leaves out the
    # alerts about themself, which others review (an only officer's go to the national admins).
    open_counts: dict[int, int] = {}
    about: dict[tuple[int, int], int] = {}
    for organisation_id, user_id, n in (
        Alert.objects.exclude(status=AlertStatus.CLOSED)
        .values("organisation_id", "user_id")
        .annotate(n=Count("id"))
        .values_list("organisation_id", "user_id", "n")
    ):
        open_counts[organisation_id] = open_counts.get(organisation_id, 0) + n
        about[(organisation_id, user_id)] = n
    officers = (
        Membership.objects.filter(role=Role.PRIVACY_OFFICER, user__is_active=True, organisation__is_active=True)
        .select_related("user", "organisation")
        .order_by("organisation_id", "user_id")
    )
    sent = 0
    for membership in officers:
        count = open_counts.get(membership.organisation_id, 0) - about.get(
            (membership.organisation_id, membership.user_id), 0
        )
        body = render_to_string(
            "emails/privacy_open_alerts.txt",
            {"count": count, "organisation": membership.organisation, "site_url": settings.SITE_URL},
        )
        with transaction.atomic():
            _, first = OpenAlertsEmail.objects.get_or_create(
                user_id=membership.user_id, organisation_id=membership.organisation_id, week_starting=week_starting
            )
            if not first:
                continue
            audit_record(
                action=AuditAction.PRIVACY_OPEN_ALERTS_SENT,
                organisation=membership.organisation,
                detail={"subject_user_id": membership.user_id, "open_alerts": count},
            )
            transaction.on_commit(
                partial(
                    send_mail,
                    subject="CP-IS: access-pattern alerts open",
                    message=body,
                    from_email=None,
                    recipient_list=[membership.user.email],
                )
            )
        sent += 1
    return sent


def child_access_report(
    *,
    nhs_number: str,
    organisation: Organisation,
    by: User,
    include_names: bool,
    as_csv: bool,
    request: HttpRequest | None = None,
) -> ChildRecordReport:
    """A family's "who has looked at this child": the report, its request audited with the NHS
    number (which is the point: the family's request is itself an access to the record)."""
    report = child_record_report(nhs_number=nhs_number, organisation=organisation)
    audit_record(
        action=AuditAction.PRIVACY_ACCESS_REPORT,
        request=request,
        user=by,
        organisation=organisation,
        nhs_number=nhs_number,
        detail={"include_names": include_names, "format": "csv" if as_csv else "page", "held": report.held},
    )
    return report
