"""Nightly re-verification of the NHS numbers of open plans, and Inactive NHS Number
notifications (SPEC 2 "Identity verification").

`identities_reverify` (beat, 01:15):
1. takes the NHS numbers of open plans (not ended, not withdrawn), those never verified or
   checked longest ago first, IDENTITY_REVERIFY_BATCH at a time, none checked within
   IDENTITY_REVERIFY_MIN_AGE_HOURS (so a second run in the same night does nothing);
2. looks each batch up on PDS (concurrently, within the rate limit) and records what it says
   (VerifiedIdentity: verified, superseded, invalidated, not found, deceased, sensitive);
3. for a number that is now inactive (superseded, invalidated, not found or deceased) and whose
   LAs have not been told, sends `identity.signals.nhs_number_inactive`, on which notifications
   raises an Inactive NHS Number notification for each LA holding an open plan for it, with the
   replacement number if there is one, audited, in the same transaction as step 2 (so a crash
   never tells an LA twice or not at all);
4. stops at the first batch PDS cannot answer: what was done stays, and the rest, checked
   longest ago, comes first the next night.
A number that becomes valid again is verified and may be notified again if it lapses again.
"""

import logging
from datetime import datetime, timedelta
from typing import cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from identity.models import INACTIVE_STATUSES, IdentityStatus, VerifiedIdentity
from identity.records import LookupStatus, PdsRecord
from identity.service import PdsUnavailable, identity_service
from identity.signals import nhs_number_inactive
from plans.models import Plan

logger = logging.getLogger(__name__)


def _status(record: PdsRecord) -> str:
    if record.status == LookupStatus.SUPERSEDED:
        return IdentityStatus.SUPERSEDED
    if record.status == LookupStatus.INVALIDATED:
        return IdentityStatus.INVALIDATED
    if record.status == LookupStatus.NOT_FOUND:
        return IdentityStatus.NOT_FOUND
    if record.deceased:
        return IdentityStatus.DECEASED
    if record.sensitive:
        return IdentityStatus.SENSITIVE
    return IdentityStatus.VERIFIED


def _batch(size: int, *, started: datetime) -> list[str]:
    """The next open-plan numbers to check: never verified first, then checked longest ago;
    none checked since this run started, nor within IDENTITY_REVERIFY_MIN_AGE_HOURS before it
    (a second run in the same night finds nothing to do)."""
    open_numbers = set(
        Plan.objects.filter(end_date__isnull=True, withdrawn=False).values_list("nhs_number", flat=True).distinct()
    )
    checked = dict(VerifiedIdentity.objects.filter(nhs_number__in=open_numbers).values_list("nhs_number", "checked_at"))
    never = sorted(n for n in open_numbers if n not in checked)
    due_before = started - timedelta(hours=settings.IDENTITY_REVERIFY_MIN_AGE_HOURS)
    due = sorted((n for n in checked if checked[n] < due_before), key=lambda n: checked[n])
    return (never + due)[:size]


def identities_reverify(*, batch_size: int | None = None) -> dict:
    """See the module's steps. Returns counts: checked, inactive, notified (notifications)."""
    service = identity_service()
    result = {"checked": 0, "inactive": 0, "notified": 0}
    if service is None:
        return result
    batch_size = batch_size or settings.IDENTITY_REVERIFY_BATCH
    started = timezone.now()
    while True:
        numbers = _batch(batch_size, started=started)
        if not numbers:
            break
        records: list[PdsRecord] = []
        try:
            service.lookup_many(numbers, on_result=records.append)
        except PdsUnavailable:
            # Keep what was answered; the rest goes first next night.
            _record_batch(records, now=timezone.now(), result=result)
            logger.warning("Re-verification stopped: PDS unavailable after %d numbers", result["checked"])
            break
        _record_batch(records, now=timezone.now(), result=result)
    logger.info(
        "Re-verified %d NHS numbers: %d inactive, %d notifications raised",
        result["checked"], result["inactive"], result["notified"],
    )  # fmt: skip
    return result


def _record_batch(records: list[PdsRecord], *, now: datetime, result: dict) -> None:
    with transaction.atomic():
        held = {v.nhs_number: v for v in VerifiedIdentity.objects.select_for_update().filter(
            nhs_number__in=[r.nhs_number for r in records]
        )}  # fmt: skip
        for record in records:
            status = _status(record)
            identity = held.get(record.nhs_number) or VerifiedIdentity(nhs_number=record.nhs_number)
            identity.status = status
            identity.replacement = record.replacement
            identity.checked_at = now
            if status in (IdentityStatus.VERIFIED, IdentityStatus.DECEASED) and record.date_of_birth:
                identity.date_of_birth = record.date_of_birth
                identity.verified_at = now
            if status == IdentityStatus.VERIFIED:
                identity.inactive_notified_at = None
            result["checked"] += 1
            if status in INACTIVE_STATUSES:
                result["inactive"] += 1
                if identity.inactive_notified_at is None:
                    result["notified"] += _notify_inactive(identity, now=now)
                    identity.inactive_notified_at = now
            identity.save()


def _notify_inactive(identity: VerifiedIdentity, *, now: datetime) -> int:
    """Tells the LAs holding an open plan for the number (notifications raises and delivers an
    Inactive NHS Number notification to each); returns how many were raised."""
    answers = nhs_number_inactive.send(
        sender=VerifiedIdentity,
        nhs_number=identity.nhs_number,
        reason=identity.status,
        replacement=identity.replacement,
        now=now,
    )
    return sum(cast(int, count) for _, count in answers)
