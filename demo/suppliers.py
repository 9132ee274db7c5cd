"""Demo supplier systems: one accredited EPR used by the demo's care settings, and one in
testing with a finished conformance run to look at (its requests made through the real API,
so the run recorded and judged them as it would a supplier's)."""

import uuid

from django.test import Client
from django.utils import timezone

from accounts.models import Organisation, User
from suppliers.conformance import conformance_run_open
from suppliers.models import AccreditationState, SupplierSystem, SystemKind, SystemUse
from suppliers.services import conformance_confirm, conformance_run_finish

NHS = "https://fhir.nhs.uk/Id/nhs-number"


def _drive(opened) -> None:
    """A system that gets most of it right, but retries at once after the 503."""
    client = Client(HTTP_HOST="localhost")
    numbers = opened.run.numbers

    def get(resource, number, *, token=opened.clinician_token, unscheduled="true", trace_id=None):
        return client.get(
            f"/fhir/R4/{resource}",
            {"patient:identifier": f"{NHS}|{number}"},
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_TRACEID=trace_id or str(uuid.uuid4()),
            HTTP_ISUNSCHEDULEDACCESSEVENT=unscheduled,
            HTTP_ACCEPT="application/fhir+json",
        )

    for key in ("on_plan", "two_las", "unborn", "no_plan", "invalid_number", "ended", "history"):
        get("CareTeam", numbers[key])
    get("CareTeam", numbers["silent_refused"], unscheduled="false")
    get("AuditEvent", numbers["history"])
    trace_id = str(uuid.uuid4())
    get("CareTeam", numbers["outage"], trace_id=trace_id)
    get("CareTeam", numbers["outage"], trace_id=trace_id)


def seed_suppliers_demo(organisations: dict[str, Organisation], national_admin: User) -> int:
    accredited, _ = SupplierSystem.objects.update_or_create(
        supplier="Emerald Health",
        product="Emerald EPR",
        version="7.3",
        defaults={
            "kind": SystemKind.CARE_SETTING_EPR,
            "offers_fhir": True,
            "state": AccreditationState.ACCREDITED,
            "accredited_on": timezone.localdate().replace(day=1),
            "accredited_version": "7.3",
        },
    )
    for ods_code in ("RDE01", "RDE02"):
        if ods_code in organisations:
            SystemUse.objects.get_or_create(system=accredited, organisation=organisations[ods_code])
    testing, _ = SupplierSystem.objects.get_or_create(
        supplier="Meridian Clinical",
        product="Meridian ED",
        version="2.0",
        defaults={"kind": SystemKind.CARE_SETTING_EPR, "offers_fhir": True},
    )
    if "RXU03" in organisations:
        SystemUse.objects.get_or_create(system=testing, organisation=organisations["RXU03"])
    if not testing.runs.exists():
        opened = conformance_run_open(system=testing, by=national_admin)
        _drive(opened)
        conformance_confirm(
            run=opened.run,
            answers={
                "on_plan": {"answer": "yes", "note": "Red banner with both numbers"},
                "two_las": {"answer": "yes", "note": ""},
                "history": {"answer": "no", "note": "Viewers' organisations not shown yet"},
            },
            tester="Demo Tester",
        )
        conformance_run_finish(run=opened.run)
    return SupplierSystem.objects.count()
