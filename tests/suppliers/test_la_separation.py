"""An LA conformance run's synthetic LA never reaches anything real: its plans are never shown
to a real care setting, its notifications never go to a real LA (nor a real LA's mailbox), a
run cannot take a real LA's mailbox, and once finished the supplier's mailbox is no LA's."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from attendances.services import child_check
from mesh.models import InboundStatus, MeshInboundMessage, MeshMailbox
from mesh.services import mesh_poll
from notifications.models import Notification
from plans.models import Plan
from suppliers.la_conformance import la_conformance_run_open, la_run_mailbox_clean
from suppliers.services import conformance_run_finish
from tests.factories import PlanFactory
from tests.suppliers import mesh_la
from tests.suppliers.conftest import deliver_notifications
from tests.suppliers.mesh_la import REAL_LA, SUPPLIER, LaSystem, client

pytestmark = pytest.mark.django_db


@pytest.fixture
def real_mailbox(local_authority):
    return MeshMailbox.objects.create(local_authority=local_authority, mailbox_id=REAL_LA)


def _check(number, organisation, role_user):
    user = role_user("clinician")
    return child_check(
        nhs_number=number,
        date_of_birth=None,
        arrived_at=timezone.now(),
        user=user,
        organisation=organisation,
        role="clinician",
    )


def _inbox(sandbox, mailbox) -> list[str]:
    with client(sandbox, mailbox) as mesh:
        return list(mesh.list_messages())


def test_the_runs_notification_goes_to_its_synthetic_la_only(
    la_mesh, la_system, role_user, local_authority, real_mailbox
):
    # A real LA holding a plan for the same test number (as the demo's LAs do) is not told.
    opened = la_conformance_run_open(system=la_system, mailbox_id=SUPPLIER, by=role_user("national_admin"))
    run = opened.run
    PlanFactory(organisation=local_authority, nhs_number=run.numbers["notification"])
    child_check(
        nhs_number=run.numbers["notification"], date_of_birth=None, arrived_at=timezone.now(),
        user=run.care_setting.memberships.get().user, organisation=run.care_setting, role="clinician",
    )  # fmt: skip
    deliver_notifications(run)

    notified = set(
        Notification.objects.filter(nhs_number=run.numbers["notification"]).values_list("local_authority", flat=True)
    )
    assert notified == {run.local_authority.pk}
    assert _inbox(la_mesh, REAL_LA) == []
    assert _inbox(la_mesh, SUPPLIER) != []  # the run's notification did go, to the run's mailbox


def test_the_plans_a_supplier_sends_are_never_shown_to_a_real_care_setting(la_mesh, la_system, role_user, care_setting):
    run = la_conformance_run_open(system=la_system, mailbox_id=SUPPLIER, by=role_user("national_admin")).run
    LaSystem(la_mesh).send(mesh_la.good_file(run.numbers), "GOOD-1")
    mesh_poll()
    number = run.numbers["good"][0]
    assert Plan.objects.filter(organisation=run.local_authority, nhs_number=number).exists()

    result = _check(number, care_setting, role_user)

    assert not result.plans
    assert not Notification.objects.filter(local_authority=run.local_authority, nhs_number=number).exists()


def test_a_run_cannot_take_a_real_las_mailbox_or_another_runs(la_system, role_user, real_mailbox):
    admin = role_user("national_admin")
    with pytest.raises(ValidationError, match="already belongs"):
        la_conformance_run_open(system=la_system, mailbox_id=REAL_LA.lower(), by=admin)
    la_conformance_run_open(system=la_system, mailbox_id=SUPPLIER, by=admin)
    with pytest.raises(ValidationError, match="already belongs"):
        la_conformance_run_open(system=la_system, mailbox_id=SUPPLIER, by=admin)


@pytest.mark.parametrize(
    "hostile", ["", "  ", "AB", "X" * 21, "LA001'; DROP TABLE", "<script>", "ZSUPP\x00MB01", "ÄÖÜ123"]
)
def test_a_mailbox_id_that_is_not_one_is_refused(hostile):
    with pytest.raises(ValidationError):
        la_run_mailbox_clean(hostile)


def test_after_the_run_a_file_from_the_suppliers_mailbox_reaches_no_la(la_mesh, la_system, role_user):
    run = la_conformance_run_open(system=la_system, mailbox_id=SUPPLIER, by=role_user("national_admin")).run
    conformance_run_finish(run=run)
    LaSystem(la_mesh).send(mesh_la.good_file(run.numbers), "LATE-1")

    mesh_poll()

    inbound = MeshInboundMessage.objects.get(sender=SUPPLIER)
    assert inbound.status == InboundStatus.REFUSED and inbound.local_authority is None
    assert not Plan.objects.filter(nhs_number__in=run.numbers["good"]).exists()
