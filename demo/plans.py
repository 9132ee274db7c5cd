"""Demo plans for seed_demo: every type and state for the demo LAs, on 999-range NHS numbers.

Idempotent: a plan is identified by its upload key, so running it again changes nothing.
"""

from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Organisation
from core.nhs_numbers import nhs_test_number
from plans.models import Plan, PlanChangeSource, PlanType

# (LA, child no., family, given, age in days, type, started days ago, ended days ago, due in days, withdrawn)
_PLANS = [
    ("LA001", 1, "Hughes", "Mia", 6 * 365 + 40, PlanType.CPP, 200, None, None, False),
    # An open plan beside an ended one: the alert must read the CPP as open (issue 13).
    ("LA001", 1, "Hughes", "Mia", 6 * 365 + 40, PlanType.LAC, 900, 210, None, False),
    ("LA001", 2, "Ali", "Yusuf", 11 * 365 + 3, PlanType.LAC, 700, None, None, False),
    ("LA001", 3, "Kowalski", "Lena Maria", 3 * 365 + 150, PlanType.CPP, 500, 90, None, False),
    ("LA001", 4, "O'Neill", "Sophie", 26 * 365, PlanType.UCPP, 60, None, 75, False),
    ("LA001", 5, "Turner", "Jack", 9 * 365, PlanType.CPP, 900, 400, None, False),  # ended, no longer shown
    ("LA001", 6, "Evans", "Ruby", 5 * 365, PlanType.CPP, 30, None, None, True),  # recorded in error
    ("LA001", 7, "Nowak", "Oskar", 17 * 365 + 350, PlanType.LAC, 1200, None, None, False),  # 18 in days
    ("LA002", 2, "Ali", "Yusuf", 11 * 365 + 3, PlanType.CPP, 120, None, None, False),  # known to two LAs
    ("LA002", 8, "Begum", "Amira", 14 * 365, PlanType.LAC, 300, 20, None, False),
    ("LA002", 9, "Campbell", "Rhianna", 31 * 365, PlanType.UCPP, 200, 10, 5, False),
    ("LA003", 10, "Murphy", "Callum", 2 * 365, PlanType.CPP, 45, None, None, False),
    ("LA003", 11, "Adebayo", "Grace", 24 * 365, PlanType.UCPP, 150, None, -10, False),  # born 10 days ago
]


def seed_plans_demo(organisations: dict[str, Organisation]) -> int:
    """Creates the demo plans that are missing; returns how many it created."""
    today = timezone.localdate()
    created = 0
    with transaction.atomic():
        for ods, child, family, given, age, plan_type, started, ended, due_in, withdrawn in _PLANS:
            organisation = organisations.get(ods)
            if organisation is None:
                continue
            nhs_number = nhs_test_number(prefix="9999", start=child * 7)
            # Dates are relative to today, so a later run must find the child's plan by type alone.
            if Plan.objects.filter(organisation=organisation, nhs_number=nhs_number, plan_type=plan_type).exists():
                continue
            born: date = today - timedelta(days=age)
            Plan.objects.create(
                organisation=organisation,
                nhs_number=nhs_number,
                plan_type=plan_type,
                start_date=today - timedelta(days=started),
                **{
                    "family_name": family,
                    "given_names": given,
                    "date_of_birth": born,
                    "end_date": today - timedelta(days=ended) if ended is not None else None,
                    "expected_due_date": today + timedelta(days=due_in) if due_in is not None else None,
                    "la_reference": f"{ods}-{child:04d}",
                    "withdrawn": withdrawn,
                    "withdrawn_on": today - timedelta(days=5) if withdrawn else None,
                    "created_by_name": "Demo data",
                    "created_source": PlanChangeSource.SYSTEM,
                },
            )
            created += 1
    return created
