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


def _national(name, kwargs=None, *, post=False, data=None):
    """A URL only national admins reach, for every system or run alike (no other organisation's)."""
    statuses = NATIONAL_POST if post else NATIONAL
    if kwargs is None:
        return Expect(name, statuses=statuses)
    return Expect(
        name,
        method="post" if post else "get",
        data=data,
        statuses=statuses,
        kwargs=kwargs,
        other_statuses=statuses,
        other_default=403,
    )


def _run_pages(prefix, run_of):
    return [
        _national(f"suppliers:{prefix}_report", run_of),
        _national(f"suppliers:{prefix}_print", run_of),
        _national(f"suppliers:{prefix}_accredit", run_of, post=True),
        _national(f"suppliers:{prefix}_finish", run_of, post=True),
    ]


EXPECTATIONS = [
    Expect("suppliers:public_list", anonymous=200, default=200),
    _national("suppliers:register"),
    _national("suppliers:system_create"),
    _national("suppliers:system_detail", _system_of),
    _national("suppliers:system_edit", _system_of),
    _national(
        "suppliers:system_withdraw", _system_of, post=True, data={"reason": "Broke the TraceID rule in live use"}
    ),
    _national("suppliers:run_open", _system_of, post=True),
    *_run_pages("run", _run_of),
    _national("suppliers:organisation_systems", _organisation_of, post=True, data={"systems": []}),
    _national("suppliers:la_run_open", _la_system_free, post=True, data={"mailbox_id": LA_MAILBOX}),
    *_run_pages("la_run", _la_run_of),
    # The supplier's pages are reached by their key alone: any other key is a 404, signed in or not.
    *(
        Expect(
            name,
            anonymous=404,
            default=404,
            kwargs=lambda w, p, own, key=key: {"key": key},
            other_statuses=everyone(404),
            other_default=404,
        )
        for name, key in [
            ("suppliers:supplier_la_run", "not-a-key-of-any-la-run-0123456789"),
            ("suppliers:supplier_run", "not-a-key-of-any-run-0123456789"),
        ]
    ),
]
