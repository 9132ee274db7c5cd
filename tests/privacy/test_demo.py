"""The demo (issue 29): privacy officers at the ED and at Northshire County Council, and audit
history in which two rules fire at the ED."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Membership, Role, User
from privacy.models import Alert, AlertRule
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db


def test_the_demo_gives_the_eds_privacy_officer_two_rules_to_triage(settings, client):
    settings.DEBUG = False
    call_command("seed_demo", "--force")
    call_command("seed_demo", "--force")
    assert Membership.objects.filter(role=Role.PRIVACY_OFFICER, organisation__ods_code="RDE01").exists()
    assert Membership.objects.filter(role=Role.PRIVACY_OFFICER, organisation__ods_code="LA001").exists()
    at_ed = Alert.objects.filter(organisation__ods_code="RDE01", user__email="clinician@demo.example")
    assert {AlertRule.REPEAT_CHILD, AlertRule.UNUSUAL_HOURS} <= set(at_ed.values_list("rule", flat=True))
    # Run twice, raised once.
    assert at_ed.filter(rule=AlertRule.REPEAT_CHILD).count() == 1
    officer = User.objects.get(email="privacy.officer@demo.example")
    page = signed_in(client, officer).get(reverse("privacy:home")).content.decode()
    assert page.count('href="/privacy/alerts/') >= 2
