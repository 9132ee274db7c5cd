from mesh.models import MeshMailbox
from suppliers.conformance import conformance_run_open
from suppliers.la_conformance import la_conformance_run_open
from suppliers.models import SupplierSystem, SystemKind
from tests.url_permissions import Expect, everyone

# National admins reach every system and run; nobody else any, and role_required refuses first.
NATIONAL = {"national_admin": 200}
NATIONAL_POST = {"national_admin": 302}


def _system(world):
    if not hasattr(world, "_system"):
        world._system = SupplierSystem.objects.create(
            supplier="Acme", product="EPR", version="1", kind=SystemKind.CARE_SETTING_EPR, offers_fhir=True
        )
    return world._system


def _system_of(world, persona, own):
    return {"system_id": _system(world).pk}


def _run_of(world, persona, own):
    # One run per walk: opening one builds its synthetic world.
    if not hasattr(world, "_run"):
        world._run = conformance_run_open(system=_system(world), by=world.users["national_admin"]).run
    return {"run_id": world._run.pk}


LA_MAILBOX = "ZWALKMB01"


def _la_system(world):
    if not hasattr(world, "_la_system"):
        world._la_system = SupplierSystem.objects.create(
            supplier="Acme", product="CaseBook", version="1", kind=SystemKind.LA_CASE_MANAGEMENT, offers_mesh=True
        )
    return world._la_system


def _la_system_free(world, persona, own):
    # Every admin's POST opens a run on the same mailbox: free it, as finishing the last run would.
    MeshMailbox.objects.filter(mailbox_id=LA_MAILBOX).delete()
    return {"system_id": _la_system(world).pk}


def _la_run_of(world, persona, own):
    if not hasattr(world, "_la_run"):
        world._la_run = la_conformance_run_open(
            system=_la_system(world), mailbox_id="ZWALKMB02", by=world.users["national_admin"]
        ).run
    return {"run_id": world._la_run.pk}


def _organisation_of(world, persona, own):
    return {"organisation_id": (world.care_setting if own else world.other_la).pk}


EXPECTATIONS = [
    Expect("suppliers:public_list", anonymous=200, default=200),
    Expect("suppliers:register", statuses=NATIONAL),
    Expect("suppliers:system_create", statuses=NATIONAL),
    Expect("suppliers:system_detail", statuses=NATIONAL, kwargs=_system_of, other_statuses=NATIONAL, other_default=403),
    Expect("suppliers:system_edit", statuses=NATIONAL, kwargs=_system_of, other_statuses=NATIONAL, other_default=403),
    Expect(
        "suppliers:system_withdraw",
        method="post",
        data={"reason": "Broke the TraceID rule in live use"},
        statuses=NATIONAL_POST,
        kwargs=_system_of,
        other_statuses=NATIONAL_POST,
        other_default=403,
    ),
    Expect(
        "suppliers:run_open",
        method="post",
        statuses=NATIONAL_POST,
        kwargs=_system_of,
        other_statuses=NATIONAL_POST,
        other_default=403,
    ),
    Expect("suppliers:run_report", statuses=NATIONAL, kwargs=_run_of, other_statuses=NATIONAL, other_default=403),
    Expect("suppliers:run_print", statuses=NATIONAL, kwargs=_run_of, other_statuses=NATIONAL, other_default=403),
    Expect(
        "suppliers:run_accredit",
        method="post",
        statuses=NATIONAL_POST,
        kwargs=_run_of,
        other_statuses=NATIONAL_POST,
        other_default=403,
    ),
    Expect(
        "suppliers:run_finish",
        method="post",
        statuses=NATIONAL_POST,
        kwargs=_run_of,
        other_statuses=NATIONAL_POST,
        other_default=403,
    ),
    Expect(
        "suppliers:organisation_systems",
        method="post",
        data={"systems": []},
        statuses=NATIONAL_POST,
        kwargs=_organisation_of,
        other_statuses=NATIONAL_POST,
        other_default=403,
    ),
    Expect(
        "suppliers:la_run_open",
        method="post",
        data={"mailbox_id": LA_MAILBOX},
        statuses=NATIONAL_POST,
        kwargs=_la_system_free,
        other_statuses=NATIONAL_POST,
        other_default=403,
    ),
    Expect("suppliers:la_run_report", statuses=NATIONAL, kwargs=_la_run_of, other_statuses=NATIONAL, other_default=403),
    Expect("suppliers:la_run_print", statuses=NATIONAL, kwargs=_la_run_of, other_statuses=NATIONAL, other_default=403),
    Expect(
        "suppliers:la_run_accredit",
        method="post",
        statuses=NATIONAL_POST,
        kwargs=_la_run_of,
        other_statuses=NATIONAL_POST,
        other_default=403,
    ),
    Expect(
        "suppliers:la_run_finish",
        method="post",
        statuses=NATIONAL_POST,
        kwargs=_la_run_of,
        other_statuses=NATIONAL_POST,
        other_default=403,
    ),
    Expect(
        "suppliers:supplier_la_run",
        anonymous=404,
        default=404,
        kwargs=lambda w, p, own: {"key": "not-a-key-of-any-la-run-0123456789"},
        other_statuses=everyone(404),
        other_default=404,
    ),
    # The supplier's page is reached by its key alone: any other key is a 404, signed in or not.
    Expect(
        "suppliers:supplier_run",
        anonymous=404,
        default=404,
        kwargs=lambda w, p, own: {"key": "not-a-key-of-any-run-0123456789"},
        other_statuses=everyone(404),
        other_default=404,
    ),
]
