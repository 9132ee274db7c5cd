"""QuerySets compiled once per process (core/compiled_queries.py) answer as the ORM does."""

import uuid
from datetime import date, timedelta

import pytest
from django.db.models import Case, When

from attendances.models import Visit
from attendances.services import check, history
from core.compiled_queries import CompiledQuerySet
from plans.models import Plan
from tests.factories import OrganisationFactory, PlanFactory, VisitFactory

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 1)


def _by_orm(nhs_number: str, today: date, synthetic: bool = False) -> list[Plan]:
    return list(
        Plan.objects.visible(today=today)
        .seen_synthetic(synthetic)
        .of_subject(nhs_number)
        .select_related("organisation")
    )


@pytest.fixture
def plans_at_every_boundary():
    """One child per case, each near a boundary of the visibility rule."""
    la = OrganisationFactory(local_authority=True)
    cases = [
        dict(plan_type="CPP"),
        dict(plan_type="CPP", end_date=DAY - timedelta(days=365)),
        dict(plan_type="LAC", end_date=DAY - timedelta(days=366)),
        dict(plan_type="CPP", withdrawn=True),
        dict(
            plan_type="UCPP",
            date_of_birth=date(2000, 1, 1),
            expected_due_date=DAY - timedelta(days=28),
        ),
        dict(plan_type="UCPP", date_of_birth=date(2000, 1, 1), expected_due_date=DAY - timedelta(days=29)),
        dict(
            plan_type="UCPP",
            date_of_birth=date(2000, 1, 1),
            expected_due_date=DAY + timedelta(days=30),
            end_date=DAY - timedelta(days=28),
        ),
    ]
    return [
        PlanFactory(
            organisation=la,
            start_date=date(2024, 1, 1),
            date_of_birth=case.pop("date_of_birth", date(2018, 5, 5)),
            **case,
        )
        for case in cases
    ]


@pytest.mark.parametrize("shift", [-1, 0, 1])
def test_the_checks_compiled_plan_query_is_the_visibility_rule(plans_at_every_boundary, shift):
    today = DAY + timedelta(days=shift)
    for plan in plans_at_every_boundary:
        expected = _by_orm(plan.nhs_number, today)
        compiled = check._visible_plans(today=today, synthetic=False, nhs_number=plan.nhs_number)
        assert [p.pk for p in compiled] == [p.pk for p in expected]
        assert [(p.organisation.name, p.ucpp_last_date) for p in compiled] == [
            (p.organisation.name, p.ucpp_last_date) for p in expected
        ]
    # Both a visible and a hidden case, so the comparison above compared something.
    shown = [
        bool(check._visible_plans(today=today, synthetic=False, nhs_number=p.nhs_number))
        for p in plans_at_every_boundary
    ]
    assert any(shown) and not all(shown)


def test_compiled_plans_come_with_their_local_authority_in_one_query(django_assert_num_queries):
    plan = PlanFactory()
    check._visible_plans(today=DAY, synthetic=False, nhs_number=plan.nhs_number)  # compiled for DAY
    with django_assert_num_queries(1):
        (found,) = check._visible_plans(today=DAY, synthetic=False, nhs_number=plan.nhs_number)
        assert found.organisation.name == plan.organisation.name


def test_a_new_day_compiles_the_rule_again():
    plan = PlanFactory(plan_type="CPP", start_date=date(2024, 1, 1), end_date=DAY)
    assert check._visible_plans(today=DAY + timedelta(days=365), synthetic=False, nhs_number=plan.nhs_number)
    assert not check._visible_plans(today=DAY + timedelta(days=366), synthetic=False, nhs_number=plan.nhs_number)


def test_the_form_visit_sorts_first_in_the_compiled_history():
    number = PlanFactory().nhs_number
    token = uuid.uuid4()
    older = VisitFactory(nhs_number=number, check_token=token)
    newer = VisitFactory(nhs_number=number, arrived_at=older.arrived_at + timedelta(hours=1))
    expected = list(
        Visit.objects.filter(nhs_number=number)
        .select_related("care_setting")
        .order_by(Case(When(check_token=token, then=0), default=1), "-arrived_at", "-id")
    )
    rows = history._form_visit_and_history(nhs_number=number, idempotency_key=token)
    assert [v.pk for v in rows] == [v.pk for v in expected] == [older.pk, newer.pk]
    assert rows[0].care_setting.name == older.care_setting.name
    assert [v.pk for v in history._form_visit_and_history(nhs_number=number, idempotency_key=uuid.uuid4())] == [
        newer.pk,
        older.pk,
    ]


def test_a_placeholder_the_sql_changes_falls_back_to_the_orm(django_assert_num_queries):
    # In a LIKE pattern the value reaches the SQL wrapped in %...%: it cannot be swapped in.
    built = []

    def build(name):
        built.append(name)
        return Plan.objects.filter(family_name__contains=name).order_by("pk")

    smiths = CompiledQuerySet(build, placeholders={"name": str})
    smith = PlanFactory(family_name="Smithson")
    jones = PlanFactory(family_name="Jones")

    with django_assert_num_queries(1):
        assert [p.pk for p in smiths(name="Smith")] == [smith.pk]
    with django_assert_num_queries(1):
        assert [p.pk for p in smiths(name="Jone")] == [jones.pk]
    assert [p.pk for p in smiths(name="o")] == [smith.pk, jones.pk]
    assert smiths(name="Brown") == []
    # Tried once with the sentinel, found not compilable, remembered as such: every call since
    # built the QuerySet again with its own value, and nothing compiled was kept.
    assert smiths._compiled == {(): None}
    assert built[1:] == ["Smith", "Jone", "o", "Brown"]
