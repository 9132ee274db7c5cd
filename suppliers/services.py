"""The register of supplier systems and its conformance runs: every change audited."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Organisation, User
from audit.models import AuditAction
from audit.services import audit_record
from fhir.services import api_token_revoke
from mesh.services import mesh_mailbox_set
from suppliers.judge import run_report
from suppliers.la_judge import la_run_report
from suppliers.la_scenarios import LA_BY_KEY
from suppliers.models import AccreditationState, ConformanceRun, LaConformanceRun, RunState, SupplierSystem, SystemUse
from suppliers.scenarios import BY_KEY

SYSTEM_FIELDS = ("supplier", "product", "version", "kind", "offers_fhir", "offers_mesh", "offers_upload")


@transaction.atomic
def system_create(*, fields: dict[str, Any], request: HttpRequest | None = None) -> SupplierSystem:
    system = SupplierSystem.objects.create(**{name: fields[name] for name in SYSTEM_FIELDS})
    audit_record(action=AuditAction.SUPPLIER_SYSTEM_ADDED, request=request, detail={"system_id": system.pk})
    return system


@transaction.atomic
def system_update(*, system: SupplierSystem, fields: dict[str, Any], request: HttpRequest | None = None) -> bool:
    changed = {name: fields[name] for name in SYSTEM_FIELDS if getattr(system, name) != fields[name]}
    if not changed:
        return False
    for name, value in changed.items():
        setattr(system, name, value)
    if "version" in changed and system.state == AccreditationState.ACCREDITED:
        # A new version is not the one accredited: it is in testing until a run of its own passes.
        system.state = AccreditationState.TESTING
    system.save()
    audit_record(
        action=AuditAction.SUPPLIER_SYSTEM_CHANGED,
        request=request,
        detail={"system_id": system.pk, "fields": sorted(changed)},
    )
    return True


@transaction.atomic
def system_withdraw(*, system: SupplierSystem, reason: str, request: HttpRequest | None = None) -> None:
    reason = reason.strip()
    if not reason:
        raise ValidationError("Enter why the accreditation is withdrawn")
    system.state = AccreditationState.WITHDRAWN
    system.withdrawn_reason = reason
    system.save(update_fields=["state", "withdrawn_reason"])
    audit_record(action=AuditAction.SUPPLIER_SYSTEM_WITHDRAWN, request=request, detail={"system_id": system.pk})


@transaction.atomic
def system_uses_set(
    *, organisation: Organisation, systems: list[SupplierSystem], request: HttpRequest | None = None
) -> bool:
    """The systems `organisation` uses are exactly `systems`."""
    wanted = {s.pk for s in systems}
    held = set(SystemUse.objects.filter(organisation=organisation).values_list("system_id", flat=True))
    if wanted == held:
        return False
    SystemUse.objects.filter(organisation=organisation, system_id__in=held - wanted).delete()
    SystemUse.objects.bulk_create([SystemUse(organisation=organisation, system_id=pk) for pk in sorted(wanted - held)])
    audit_record(
        action=AuditAction.SUPPLIER_SYSTEM_USE_CHANGED,
        request=request,
        detail={
            "organisation_id": organisation.pk,
            "added": sorted(wanted - held),
            "removed": sorted(held - wanted),
        },
    )
    return True


@dataclass(frozen=True)
class _RunKind:
    """What differs between a FHIR run and an LA run for the services below."""

    audit_key: str
    scenario_keys: frozenset[str]
    report: Callable[[Any], Any]
    related: tuple[str, ...]
    # What finishing a run stops, beyond its state.
    end: Callable[[Any, HttpRequest | None], None]


def _tokens_revoke(run: ConformanceRun, request: HttpRequest | None) -> None:
    # Its tokens stop at once: nothing more is recorded or judged.
    for token in (run.clinician_token, run.lead_token):
        api_token_revoke(token=token, request=request)


def _mailbox_release(run: LaConformanceRun, request: HttpRequest | None) -> None:
    # The mailbox maps to the run's LA no longer: a later file from it is refused as from no
    # LA, and the supplier's mailbox is free for its next run.
    mesh_mailbox_set(local_authority=run.local_authority, mailbox_id="", request=request)


_KINDS: dict[type, _RunKind] = {
    ConformanceRun: _RunKind("run_id", frozenset(BY_KEY), run_report, ("system",), _tokens_revoke),
    LaConformanceRun: _RunKind(
        "la_run_id", frozenset(LA_BY_KEY), la_run_report, ("system", "local_authority"), _mailbox_release
    ),
}

Run = ConformanceRun | LaConformanceRun


@transaction.atomic
def conformance_confirm(
    *, run: Run, answers: dict[str, dict[str, str]], tester: str, request: HttpRequest | None = None
) -> None:
    """The supplier's tester says, per scenario, whether the system showed what it should."""
    kind = _KINDS[type(run)]
    if not run.is_open:
        raise ValidationError("This run has finished")
    if set(answers) - kind.scenario_keys:
        raise ValidationError("Unknown scenarios")
    run.confirmations = {**run.confirmations, **answers}
    run.confirmed_by_name = tester
    run.confirmed_at = timezone.now()
    run.save(update_fields=["confirmations", "confirmed_by_name", "confirmed_at"])
    audit_record(
        action=AuditAction.CONFORMANCE_CONFIRMED,
        request=request,
        user=None,
        organisation=None,
        detail={kind.audit_key: run.pk, "scenarios": sorted(answers)},
    )


def _run_finish(run: Run, request: HttpRequest | None) -> None:
    run.state = RunState.FINISHED
    run.finished_at = timezone.now()
    run.save(update_fields=["state", "finished_at", "accredited_at"])
    _KINDS[type(run)].end(run, request)


@transaction.atomic
def conformance_run_finish(*, run: Run, request: HttpRequest | None = None) -> None:
    if not run.is_open:
        return
    _run_finish(run, request)
    audit_record(
        action=AuditAction.CONFORMANCE_RUN_FINISHED, request=request, detail={_KINDS[type(run)].audit_key: run.pk}
    )


def _version_accredit(system: SupplierSystem, version: str) -> SupplierSystem:
    """The register's side of accrediting: only the version still in the register, and any
    earlier withdrawal forgotten."""
    if system.version != version:
        raise ValidationError(f"The run tested version {version}; the register now says {system.version}")
    system.state = AccreditationState.ACCREDITED
    system.accredited_on = timezone.localdate()
    system.accredited_version = version
    system.withdrawn_reason = ""
    system.save(update_fields=["state", "accredited_on", "accredited_version", "withdrawn_reason"])
    return system


@transaction.atomic
def system_accredit(*, run: Run, by: User, request: HttpRequest | None = None) -> None:
    """Accredits the version a run tested, from its passing report; the run ends."""
    kind = _KINDS[type(run)]
    run = type(run).objects.select_for_update().select_related(*kind.related).get(pk=run.pk)
    if not kind.report(run).passed:
        raise ValidationError("Only a run whose every scenario passed can accredit its version")
    system = _version_accredit(run.system, run.version)
    run.accredited_at = timezone.now()
    if run.is_open:
        _run_finish(run, request)
    else:
        run.save(update_fields=["accredited_at"])
    audit_record(
        action=AuditAction.SUPPLIER_SYSTEM_ACCREDITED,
        request=request,
        detail={"system_id": system.pk, kind.audit_key: run.pk, "version": run.version},
    )
