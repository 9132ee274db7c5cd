import pytest
from django.core.management import call_command

from accounts.models import Organisation
from attendances.demo import seed_attendances_demo
from attendances.models import Visit
from notifications.models import Notification
from tests.factories import PlanFactory, nhs_number_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    call_command("seed_demo", force=True, stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_demo_visits_are_recorded_once_for_children_on_plans(demo):
    la1, la2 = Organisation.objects.get(ods_code="LA001"), Organisation.objects.get(ods_code="LA002")
    plans = [
        PlanFactory(organisation=la, nhs_number=nhs_number_for(10 * i)) for i, la in enumerate([la1, la2, la1, la2])
    ]

    assert seed_attendances_demo() == 6
    assert seed_attendances_demo() == 0

    assert Visit.objects.count() == 6
    assert set(Visit.objects.values_list("nhs_number", flat=True)) == {p.nhs_number for p in plans[:3]}
    assert Notification.objects.exists()


def test_demo_without_plans_does_nothing(demo):
    assert seed_attendances_demo() == 0
    assert not Visit.objects.exists()
