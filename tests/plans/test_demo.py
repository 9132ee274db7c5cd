import datetime as dt

import pytest
import time_machine
from django.core.management import call_command

from accounts.models import Organisation
from core.nhs_numbers import nhs_number_is_valid
from plans.models import Plan

pytestmark = pytest.mark.django_db


def test_seed_demo_adds_realistic_plans_once_even_on_a_later_day():
    call_command("seed_demo", "--force", verbosity=0)
    # The demo's conformance run (suppliers/) has synthetic plans of its own, counted apart.
    plans = list(Plan.objects.filter(organisation__is_synthetic=False).select_related("organisation"))
    assert {p.organisation.ods_code for p in plans} == {"LA001", "LA002", "LA003"}
    assert {p.plan_type for p in plans} == {"CPP", "LAC", "UCPP"}
    assert any(p.withdrawn for p in plans) and any(p.end_date for p in plans)
    assert all(p.nhs_number.startswith("999") and nhs_number_is_valid(p.nhs_number) for p in plans)
    visible = Plan.objects.visible().filter(organisation__is_synthetic=False)
    assert 0 < visible.count() < len(plans)
    # The public implementation-progress page counts them by region (synthetic ones it leaves out).
    assert not Organisation.objects.filter(region="", is_synthetic=False).exists()
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=3)):
        call_command("seed_demo", "--force", verbosity=0)
    assert Plan.objects.filter(organisation__is_synthetic=False).count() == len(plans)


def test_the_demo_child_named_in_the_readme_is_on_an_open_plan_beside_an_ended_one():
    from pathlib import Path

    from django.conf import settings

    call_command("seed_demo", "--force", verbosity=0)
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    assert "999 900 0088" in readme
    plans = {p.plan_type: p for p in Plan.objects.visible().filter(nhs_number="9999000088")}
    assert plans["CPP"].end_date is None and plans["LAC"].end_date is not None
    assert plans["CPP"].given_names == "Mia"
