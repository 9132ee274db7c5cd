import pytest
from django.core.management import call_command

from attendances.models import Visit
from audit.models import AuditAction, AuditEvent
from demo.attendances import seed_attendances_demo
from notifications.models import Notification
from plans.models import Plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    call_command("seed_demo", force=True, stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_seed_demo_records_visits_through_the_check_once(demo):
    demo_checks = AuditEvent.objects.filter(trace_id="seed_demo", action=AuditAction.CHILD_CHECKED)
    assert demo_checks.count() == 6
    children = set(demo_checks.values_list("nhs_number", flat=True))
    assert len(children) == 3
    # Each of them on a visible plan, with its visits and the LA notified.
    for nhs_number in children:
        assert Plan.objects.visible().of_subject(nhs_number).exists()
        assert Notification.objects.filter(nhs_number=nhs_number).exists()
    visits = Visit.objects.count()
    assert seed_attendances_demo() == 0
    call_command("seed_demo", force=True, stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Visit.objects.count() == visits


def test_without_plans_it_does_nothing(db):
    assert seed_attendances_demo() == 0
    assert not Visit.objects.exists()
