"""Object access for the register's pages: anything not found is a 404, audited as a refusal
by the refusal middleware (a national admin reaches every system and run; a supplier's tester
only the run whose key they were given)."""

from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import Organisation
from core.tokens import token_hash
from suppliers.models import ConformanceRun, LaConformanceRun, SupplierSystem


def access_system(system_id: int) -> SupplierSystem:
    return get_object_or_404(SupplierSystem, pk=system_id)


def access_run(run_id: int) -> ConformanceRun:
    return get_object_or_404(ConformanceRun.objects.select_related("system", "care_setting"), pk=run_id)


def access_run_by_key(key: str) -> ConformanceRun:
    """The run a supplier's link names; any other key is a 404, whatever it is."""
    if not isinstance(key, str) or not 20 <= len(key) <= 64:
        raise Http404
    return get_object_or_404(ConformanceRun.objects.select_related("system"), access_key_hash=token_hash(key))


def access_organisation(organisation_id: int) -> Organisation:
    return get_object_or_404(Organisation, pk=organisation_id, is_synthetic=False)


def access_la_run(run_id: int) -> LaConformanceRun:
    return get_object_or_404(
        LaConformanceRun.objects.select_related("system", "local_authority", "care_setting"), pk=run_id
    )


def access_la_run_by_key(key: str) -> LaConformanceRun:
    """The LA run a supplier's link names; any other key is a 404, whatever it is."""
    if not isinstance(key, str) or not 20 <= len(key) <= 64:
        raise Http404
    return get_object_or_404(LaConformanceRun.objects.select_related("system"), access_key_hash=token_hash(key))
