"""The result page's remembered parts (cpis.jinja2.rendered_once): the LA's callout frame and
the inset text, never anything about the child."""

import uuid

import pytest
from django.urls import reverse
from markupsafe import Markup

from accounts.models import Role
from attendances.display import CARD_BODY, card_filled
from cpis import jinja2 as cpis_jinja2
from tests.factories import PlanFactory

pytestmark = pytest.mark.django_db


def _check(client, plan):
    response = client.post(
        reverse("attendances:check"), {"nhs_number": plan.nhs_number, "check_token": str(uuid.uuid4())}
    )
    assert response.status_code == 200
    return response.content.decode()


def test_nothing_about_the_child_is_remembered_and_each_child_is_in_their_own_card(role_user, client_for):
    client = client_for(role_user(Role.CLINICIAN))
    first = PlanFactory(family_name="Quibbleworth", given_names="Tallulah")
    second = PlanFactory(organisation=first.organisation, family_name="Ashdown-Pike", given_names="Morwenna")
    cpis_jinja2._rendered.clear()

    pages = [_check(client, first), _check(client, second)]

    remembered = "".join(cpis_jinja2._rendered.values())
    for plan in (first, second):
        for personal in (plan.family_name, plan.given_names, plan.nhs_number, f"{plan.nhs_number[:3]} "):
            assert personal not in remembered
    # One frame for the LA's two children, filled with each one's details.
    frames = [k for k in cpis_jinja2._rendered if k[1] == "warningCallout"]
    assert len(frames) == 1
    for page, plan, other in ((pages[0], first, second), (pages[1], second, first)):
        card = page.split('data-testid="alert"', 1)[1].split("</h2>", 1)[1].split("Contact ", 1)[0]
        assert f"{plan.given_names} {plan.family_name}" in card
        assert other.family_name not in page
        assert str(CARD_BODY) not in page


def test_a_frame_without_the_slot_fails_rather_than_drop_the_childs_details():
    with pytest.raises(ValueError):
        card_filled(Markup("<div>no slot</div>"), Markup("<p>Tallulah</p>"))
