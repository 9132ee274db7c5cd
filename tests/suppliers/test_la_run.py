"""Whole LA conformance runs over a real mesh-sandbox, with mesh-client as the supplier's LA
system: one that does everything right passes and is accredited; one that never acknowledges
its acknowledgements and sends an incomplete rejected-rows file fails exactly those."""

import pytest

from mesh.models import MeshMailbox
from mesh.services import mesh_poll
from suppliers.la_conformance import la_conformance_run_open, la_run_track
from suppliers.la_judge import la_run_report
from suppliers.la_scenarios import LA_SCENARIOS
from suppliers.models import AccreditationState, RunState
from suppliers.services import conformance_confirm, system_accredit
from tests.suppliers import mesh_la
from tests.suppliers.conftest import deliver_notifications
from tests.suppliers.mesh_la import SUPPLIER, LaSystem

pytestmark = pytest.mark.django_db


def _confirm_all(run) -> None:
    conformance_confirm(
        run=run, answers={s.key: {"answer": "yes", "note": ""} for s in LA_SCENARIOS}, tester="Pat Tester"
    )


def _statuses(run) -> dict[str, str]:
    la_run_track(run)
    return {result.scenario.key: result.status for result in la_run_report(run).scenarios}


def test_a_system_that_does_everything_right_passes_and_is_accredited(
    la_mesh, la_system, role_user, django_assert_max_num_queries
):
    admin = role_user("national_admin")
    run = la_conformance_run_open(system=la_system, mailbox_id=SUPPLIER.lower(), by=admin).run
    assert run.mailbox_id == SUPPLIER and run.local_authority.is_synthetic and run.care_setting.is_synthetic
    deliver_notifications(run)
    system = LaSystem(la_mesh)
    system.send(mesh_la.good_file(run.numbers), "GOOD-1")
    system.send(mesh_la.rejected_file(run.numbers), "REJECT-1")
    system.send(mesh_la.unreadable_file(), "BAD-1")

    result = mesh_poll()
    assert result.error == "" and len(result.received) == 3
    fetched = system.fetch()

    # Three acknowledgements, one rejected-rows report and the notification.
    assert sorted(m["workflowid"] for m in fetched) == ["CPIS_NOTIFICATION"] + ["CPIS_UPLOAD_ACK"] * 4
    # Everything happened; nothing passes until the tester confirms what the system showed.
    assert set(_statuses(run).values()) == {"failed"}
    _confirm_all(run)
    # The report reads files, answers, deliveries and notifications in a fixed few queries.
    with django_assert_max_num_queries(5):
        report = la_run_report(run)
    assert [(r.scenario.key, r.status, r.problems) for r in report.scenarios if not r.passed] == []
    assert report.passed and len(report.files) == 3
    assert set(run.tracked.values()) == {"acknowledged"} and len(run.tracked) == 5

    system_accredit(run=run, by=admin)

    la_system.refresh_from_db()
    run.refresh_from_db()
    assert (la_system.state, la_system.accredited_version) == (AccreditationState.ACCREDITED, "9.1")
    assert run.state == RunState.FINISHED and run.accredited_at is not None
    # The supplier's mailbox no longer maps to the run's LA: a file from it now is no LA's.
    assert not MeshMailbox.objects.filter(mailbox_id=SUPPLIER).exists()


def test_a_system_that_never_acknowledges_its_acknowledgements_fails_those(la_mesh, la_system, role_user):
    run = la_conformance_run_open(system=la_system, mailbox_id=SUPPLIER, by=role_user("national_admin")).run
    deliver_notifications(run)
    # It fetches everything but acknowledges only the notification, and its rejected-rows file
    # has no row with a future date; it never sends an unreadable file.
    system = LaSystem(la_mesh, acknowledge={"CPIS_NOTIFICATION"})
    system.send(mesh_la.good_file(run.numbers), "GOOD-1")
    system.send(mesh_la.rejected_file(run.numbers, future_date=False), "REJECT-1")
    mesh_poll()
    system.fetch()
    _confirm_all(run)

    statuses = _statuses(run)

    assert statuses == {
        "good_file": "passed",
        "rejected_rows": "failed",
        "unreadable_file": "failed",
        "answers_acknowledged": "failed",
        "notification_acknowledged": "passed",
    }
    report = {r.scenario.key: r for r in la_run_report(run).scenarios}
    assert report["rejected_rows"].problems == ["No CPF03 file had rows rejected for future_date"]
    assert report["unreadable_file"].problems == ["No file from the run's mailbox got CPF01"]
    assert report["answers_acknowledged"].problems == ["3 acknowledgement(s) not acknowledged in MESH by the system"]
    assert not la_run_report(run).passed
    with pytest.raises(Exception, match="every scenario passed"):
        system_accredit(run=run, by=role_user("national_admin"))
