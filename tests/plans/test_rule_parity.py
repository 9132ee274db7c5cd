"""One table of plan rules (plans/rules.py), three paths: every rule's good and bad case goes
through the form's service (`plan_create`), the upload's reader (`PlanFileReader`) and the
whole upload on PostgreSQL (reader, then the staging SQL), and the verdicts and the messages
must agree word for word."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Role
from core.dates import years_before
from core.formatting import date_format
from plans import rules
from plans.models import eighteenth_birthday
from plans.services import plan_create
from plans.upload_rows import PlanFileReader, Rejection
from tests.factories import OrganisationFactory, PlanFactory, nhs_number_for
from tests.plans.helpers import HEADER, csv_bytes, import_bytes, today

pytestmark = pytest.mark.django_db

# The cases are built from the day the module is imported; a run that crosses midnight (London)
# would try yesterday's cases against today's rules, so each test runs at noon on that day.
T = today()


@pytest.fixture(autouse=True)
def _on_the_cases_day():
    with time_machine.travel(datetime.combine(T, time(12), tzinfo=ZoneInfo("Europe/London")), tick=True):
        yield


TEN = years_before(T, 10)
NINETEEN = years_before(T, 19)
ADULT_ON = eighteenth_birthday(NINETEEN)
MOTHER = years_before(T, 25)
HELD_BIRTH = years_before(T, 9)


@dataclass
class Case:
    rule: rules.PlanRule
    bad: dict[str, Any]
    good: dict[str, Any]
    # Plans held before either case is tried: ("own" | "other" LA, the plan's fields).
    held: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


CASES = [
    Case(rules.BIRTH_IN_FUTURE, {"date_of_birth": T + timedelta(1), "start_date": T + timedelta(1)},
         {"date_of_birth": T, "start_date": T}),
    Case(rules.START_IN_FUTURE, {"start_date": T + timedelta(1)}, {"start_date": T}),
    Case(rules.START_BEFORE_BIRTH, {"start_date": TEN - timedelta(1)}, {"start_date": TEN}),
    Case(rules.END_IN_FUTURE, {"end_date": T + timedelta(1)}, {"end_date": T}),
    Case(rules.END_BEFORE_START, {"end_date": T - timedelta(101)}, {"end_date": T - timedelta(100)}),
    Case(rules.DUE_DATE_MISSING, {"plan_type": "UCPP", "date_of_birth": MOTHER},
         {"plan_type": "UCPP", "date_of_birth": MOTHER, "expected_due_date": T + timedelta(30)}),
    Case(rules.DUE_DATE_NOT_ALLOWED, {"expected_due_date": T + timedelta(30)}, {}),
    Case(rules.ADULT_AT_START, {"date_of_birth": NINETEEN, "start_date": ADULT_ON, "end_date": ADULT_ON},
         {"date_of_birth": NINETEEN, "start_date": ADULT_ON - timedelta(1), "end_date": ADULT_ON}),
    Case(rules.ADULT_STILL_OPEN, {"date_of_birth": NINETEEN, "start_date": T - timedelta(700)},
         {"date_of_birth": NINETEEN, "start_date": T - timedelta(700), "end_date": ADULT_ON}),
    Case(rules.END_AFTER_ADULTHOOD,
         {"date_of_birth": NINETEEN, "start_date": T - timedelta(700), "end_date": ADULT_ON + timedelta(1)},
         {"date_of_birth": NINETEEN, "start_date": T - timedelta(700), "end_date": ADULT_ON}),
    Case(rules.BIRTH_DATE_CONFLICT, {"date_of_birth": TEN}, {"date_of_birth": HELD_BIRTH},
         held=[("other", {"date_of_birth": HELD_BIRTH})]),
    Case(rules.OPEN_PLAN_HELD, {}, {"plan_type": "LAC"},
         held=[("own", {"date_of_birth": TEN, "start_date": T - timedelta(200)})]),
    Case(rules.KEY_HELD, {"end_date": T - timedelta(10)}, {"start_date": T - timedelta(99), "end_date": T - timedelta(10)},
         held=[("own", {"date_of_birth": TEN, "start_date": T - timedelta(100), "end_date": T - timedelta(50)})]),
    Case(rules.NO_PLAN_TO_WITHDRAW, {"withdrawn": True}, {"withdrawn": True},
         held=[("own", {"date_of_birth": TEN, "start_date": T - timedelta(150)})]),
]  # fmt: skip
# The good withdrawal names the plan held; the bad one a start date nothing has.
CASES[-1].good["start_date"] = T - timedelta(150)


def _child(n: int, values: dict[str, Any]) -> dict[str, Any]:
    child = {
        "nhs_number": nhs_number_for(900 + n),
        "family_name": "Parity",
        "given_names": "Child",
        "date_of_birth": TEN,
        "plan_type": "CPP",
        "start_date": T - timedelta(100),
        "end_date": None,
        "expected_due_date": None,
        "la_reference": "",
        "withdrawn": False,
    }
    return {**child, **values}


def _csv(child: dict[str, Any]) -> bytes:
    def cell(value: Any) -> str:
        if value is None or value is False:
            return ""
        if value is True:
            return "Y"
        return value.isoformat() if isinstance(value, date) else str(value)

    return csv_bytes([{column: cell(child[column]) for column in HEADER}])


def _rolled_back(action):
    with transaction.atomic():
        result = action()
        transaction.set_rollback(True)
    return result


def _by_form(la, user, child: dict[str, Any]) -> dict[str, list[str]]:
    def create():
        try:
            plan_create(organisation=la, by=user, **{k: v for k, v in child.items() if k != "withdrawn"})
        except ValidationError as error:
            return error.message_dict
        return {}

    return _rolled_back(create)


def _by_reader(child: dict[str, Any]) -> tuple[str, str] | None:
    (item,) = PlanFileReader(content=_csv(child), today=T, max_rows=10).rows()
    return (item.reason, item.message) if isinstance(item, Rejection) else None


def _by_upload(la, child: dict[str, Any]) -> tuple[list[tuple[str, str]], int]:
    def analyse():
        upload = import_bytes(la, _csv(child), dry_run=True)
        return [(r.reason, r.message) for r in upload.rejections.all()], upload.counts["accepted"]

    return _rolled_back(analyse)


def _hold(case: Case, n: int, la, other_la) -> None:
    for whose, values in case.held:
        PlanFactory(organisation=la if whose == "own" else other_la, nhs_number=nhs_number_for(900 + n), **values)


def _message(case: Case, child: dict[str, Any]) -> str:
    return case.rule.message.format(adult_on=date_format(eighteenth_birthday(child["date_of_birth"])))


@pytest.fixture
def plan_manager(role_user):
    return role_user(Role.PLAN_MANAGER)


_IDS = [f"{i}" for i in range(len(CASES))]


@pytest.mark.parametrize("n, case", list(enumerate(CASES)), ids=_IDS)
def test_every_rule_refuses_its_bad_case_alike_on_every_path(n, case, plan_manager, local_authority):
    la = local_authority
    _hold(case, n, la, OrganisationFactory(local_authority=True))
    child = _child(n, case.bad)
    message = _message(case, child)

    if case.rule.field is not None:
        assert _by_form(la, plan_manager, child)[case.rule.field] == [message]
    if case.rule in rules.ROW_RULES:
        assert _by_reader(child) == (case.rule.reason, message)
    else:
        assert _by_reader(child) is None  # left to the staging SQL, against the plans held
    if case.rule.reason is not None:
        assert _by_upload(la, child) == ([(case.rule.reason, message)], 0)
    else:
        assert _by_upload(la, child) == ([], 1)  # the upload key names the held plan: an update


@pytest.mark.parametrize("n, case", list(enumerate(CASES)), ids=_IDS)
def test_every_rule_accepts_its_good_case_alike_on_every_path(n, case, plan_manager, local_authority):
    la = local_authority
    _hold(case, n, la, OrganisationFactory(local_authority=True))
    child = _child(n, case.good)

    if case.rule.field is not None:
        assert _by_form(la, plan_manager, child) == {}
    assert _by_reader(child) is None
    assert _by_upload(la, child) == ([], 1)


def test_every_rule_in_the_table_has_its_cases():
    assert [case.rule for case in CASES] == list(rules.PLAN_RULES)
