"""What the register's pages read."""

from django.db.models import QuerySet

from accounts.models import Organisation
from reports.progress import go_live_states
from suppliers.models import AccreditationState, ConformanceRun, LaConformanceRun, SupplierSystem, SystemUse


def systems_all() -> QuerySet[SupplierSystem]:
    return SupplierSystem.objects.all()


def systems_accredited() -> list[dict]:
    """For the public page: each accredited system, its interfaces, date, and how many live
    organisations use it (counts only; nothing about a person)."""
    systems = list(SupplierSystem.objects.filter(state=AccreditationState.ACCREDITED))
    uses = list(
        SystemUse.objects.filter(
            system__in=systems, organisation__is_active=True, organisation__is_synthetic=False
        ).select_related("organisation")
    )
    live = {state.organisation.pk for state in go_live_states([u.organisation for u in uses]) if state.live}
    return [
        {
            "system": system,
            "live": sum(1 for u in uses if u.system_id == system.pk and u.organisation_id in live),
        }
        for system in systems
    ]


def system_runs(system: SupplierSystem) -> QuerySet[ConformanceRun]:
    return system.runs.all()


def system_la_runs(system: SupplierSystem) -> QuerySet[LaConformanceRun]:
    return system.la_runs.all()


def system_organisations(system: SupplierSystem) -> QuerySet[Organisation]:
    return Organisation.objects.filter(pk__in=system.uses.values("organisation_id")).order_by("name")


def systems_used_by(organisation: Organisation) -> set[int]:
    return set(SystemUse.objects.filter(organisation=organisation).values_list("system_id", flat=True))


def systems_by_ids(ids: list[int]) -> list[SupplierSystem]:
    return list(SupplierSystem.objects.filter(pk__in=ids))
