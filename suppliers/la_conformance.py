"""An LA system's conformance run: a synthetic local authority whose MESH mailbox is the
supplier's test mailbox, and a synthetic care setting that checks one of its children, so the
system has a notification to fetch (ADR-026).

The LA and the care setting are synthetic (`Organisation.is_synthetic`): a real care setting
is never shown the LA's plans and the synthetic setting sees only synthetic plans of 999
numbers (`PlanQuerySet.seen_from`), so whatever the supplier's files say, nothing reaches a
real LA or care setting. The run's numbers are its own block of the 999 test range (prefix
9997; the FHIR runs use 9996).
"""

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Organisation, OrganisationKind, Role, SettingType, User
from attendances.services import child_check
from audit.models import AuditAction
from audit.services import audit_record
from core.nhs_numbers import nhs_test_numbers
from core.tokens import token_hash
from mesh.client import mesh_client, mesh_error_summary
from mesh.models import MeshMailbox
from mesh.services import mesh_mailbox_set
from plans.models import Plan, PlanType
from suppliers.conformance import _invalid, _synthetic_user
from suppliers.models import LaConformanceRun, SupplierSystem

logger = logging.getLogger(__name__)

NUMBER_PREFIX = "9997"
NUMBERS_PER_RUN = 8
MAILBOX_ID = re.compile(r"^[A-Z0-9]{3,20}$")
# Tracking states after which nothing changes: asked about again only while still moving.
_SETTLED = {"acknowledged", "undeliverable", "error"}


@dataclass(frozen=True)
class OpenedLaRun:
    run: LaConformanceRun
    # Shown once to the national admin who opened the run, for the supplier; never stored.
    access_key: str


def la_run_mailbox_clean(mailbox_id: str) -> str:
    """The supplier's test mailbox, if it can be the run's: a mailbox already mapped to an LA
    (a real one's, or another open run's) cannot, or its files would land there."""
    mailbox_id = (mailbox_id or "").strip().upper()
    if not MAILBOX_ID.match(mailbox_id):
        raise ValidationError("Enter the supplier's MESH mailbox id: 3 to 20 letters and digits")
    if MeshMailbox.objects.filter(mailbox_id=mailbox_id).exists():
        raise ValidationError("This MESH mailbox already belongs to a local authority")
    return mailbox_id


def _numbers(block: int) -> dict:
    numbers = nhs_test_numbers((block * NUMBERS_PER_RUN) % 10**5, prefix=NUMBER_PREFIX)
    good = [next(numbers) for _ in range(3)]
    rejected = [next(numbers), _invalid(next(numbers)), next(numbers)]
    return {"good": good, "rejected": rejected, "notification": next(numbers)}


def _notification_check(run: LaConformanceRun, clinician: User) -> None:
    """A plan on the run's LA and a check of its child at the run's setting: the notification
    goes to the run's LA only, through its channels (MESH, the mailbox just set)."""
    today = timezone.localdate()
    Plan.objects.create(
        organisation=run.local_authority,
        nhs_number=run.numbers["notification"],
        family_name="Synthetic",
        given_names="Child notification",
        date_of_birth=today - timedelta(days=5 * 365),
        plan_type=PlanType.CPP,
        start_date=today - timedelta(days=60),
        created_by_name="Conformance run",
        created_source="system",
    )
    child_check(
        nhs_number=run.numbers["notification"],
        date_of_birth=None,
        arrived_at=timezone.now(),
        user=clinician,
        organisation=run.care_setting,
        role=Role.CLINICIAN,
    )


@transaction.atomic
def la_conformance_run_open(
    *, system: SupplierSystem, mailbox_id: str, by: User, request: HttpRequest | None = None
) -> OpenedLaRun:
    mailbox_id = la_run_mailbox_clean(mailbox_id)
    block = (LaConformanceRun.objects.aggregate(last=Max("id"))["last"] or 0) + 1
    suffix = secrets.token_hex(3).upper()
    local_authority = Organisation.objects.create(
        ods_code=f"ZL{suffix}A",
        name=f"Conformance County Council ({system.product}, {suffix})",
        kind=OrganisationKind.LOCAL_AUTHORITY,
        office_hours_phone="0300 000 0001",
        emergency_duty_phone="0300 000 0101",
        is_synthetic=True,
    )
    care_setting = Organisation.objects.create(
        ods_code=f"ZL{suffix}S",
        name=f"Conformance setting {suffix} ({system.product})",
        kind=OrganisationKind.CARE_SETTING,
        setting_type=SettingType.ED,
        is_synthetic=True,
    )
    mesh_mailbox_set(local_authority=local_authority, mailbox_id=mailbox_id, request=request)
    clinician = _synthetic_user(
        name="Conformance Clinician",
        tag=f"la-conformance-{suffix.lower()}-clinician",
        organisation=care_setting,
        role=Role.CLINICIAN,
    )
    access_key = secrets.token_urlsafe(24)
    run = LaConformanceRun.objects.create(
        system=system,
        version=system.version,
        opened_by=by,
        local_authority=local_authority,
        care_setting=care_setting,
        mailbox_id=mailbox_id,
        access_key_hash=token_hash(access_key),
        numbers=_numbers(block),
    )
    _notification_check(run, clinician)
    audit_record(
        action=AuditAction.CONFORMANCE_RUN_OPENED,
        request=request,
        detail={"la_run_id": run.pk, "system_id": system.pk, "version": system.version, "mailbox": mailbox_id},
    )
    return OpenedLaRun(run=run, access_key=access_key)


def la_run_track(run: LaConformanceRun) -> str:
    """Asks MESH how each message we sent the run's mailbox stands (accepted, acknowledged …)
    and keeps the answers on the run; returns "" or what went wrong (class and status only).
    Only messages not yet settled are asked about again."""
    # Imported here: the selectors read the mesh app's rows; this is the one write of tracking.
    from suppliers.la_judge import sent_to_run

    pending = [m for m in sent_to_run(run) if m.message_id and run.tracked.get(m.message_id) not in _SETTLED]
    if not pending or not run.is_open:
        return ""
    tracked = dict(run.tracked)
    try:
        with mesh_client() as client:
            for message in pending:
                tracked[message.message_id] = str(client.track_message(message.message_id).get("status") or "")[:40]
    except Exception as error:  # MESH down or refusing: the report shows what it last knew
        summary = mesh_error_summary(error)
        logger.warning("MESH tracking for LA run %s failed: %s", run.pk, summary)
        return summary
    finally:
        if tracked != run.tracked:
            run.tracked = tracked
            run.tracked_at = timezone.now()
            run.save(update_fields=["tracked", "tracked_at"])
    return ""
