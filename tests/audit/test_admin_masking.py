"""Admin roles alone never show child identifiers (SPEC 1, issue 12 finding 2): org admins see NHS
numbers masked and no plan or notification ids; national admins search by NHS number only past
the trained-user gate, and each such search is audited."""

import pytest
from django.urls import reverse

from accounts.models import Role
from audit.models import AuditAction, AuditEvent, AuditOutcome
from tests.audit.test_viewer import CHILD, event, export, not_about_the_search, search

pytestmark = pytest.mark.django_db


@pytest.fixture
def child_events(care_setting):
    event(
        organisation=care_setting,
        action=AuditAction.CHILD_CHECKED,
        nhs_number=CHILD,
        detail={"visit_id": 41, "notification_ids": [7, 8], "plan_ids": [3], "subject_user_id": 5},
    )


def test_org_admin_sees_nhs_numbers_masked_and_no_plan_or_notification_ids(client_for, role_user, child_events):
    client = client_for(role_user(Role.ORG_ADMIN))
    page = client.get(reverse("audit:events")).content.decode()
    spaced = f"{CHILD[:3]} {CHILD[3:6]} {CHILD[6:]}"
    # Masked, then spaced as every NHS number on the pages is.
    assert CHILD not in page and spaced not in page and "*** *** " + CHILD[-4:] in page
    (row,) = not_about_the_search(export(client))
    assert row["nhs_number"] == "******" + CHILD[-4:]
    assert "notification" not in row["detail"] and "plan" not in row["detail"] and "visit" not in row["detail"]
    assert '"subject_user_id": 5' in row["detail"]


def test_org_admin_has_no_nhs_number_search(client_for, role_user, child_events):
    client = client_for(role_user(Role.ORG_ADMIN))
    assert 'name="nhs_number"' not in client.get(reverse("audit:events")).content.decode()
    search(client, nhs_number=CHILD)
    # The field does not exist for them: the search lists everything, still masked.
    assert CHILD not in client.get(reverse("audit:events")).content.decode()


def test_untrained_national_admin_is_stopped_at_the_gate_for_an_nhs_number_search(client_for, role_user, child_events):
    admin = role_user(Role.NATIONAL_ADMIN, trained=False)
    client = client_for(admin)
    response = search(client, nhs_number=CHILD)
    assert response.status_code == 403
    assert AuditEvent.objects.filter(action=AuditAction.GATE_REFUSED, user=admin, outcome=AuditOutcome.DENIED).exists()
    # Without clearance the numbers in the list are masked too.
    assert CHILD not in client.get(reverse("audit:events")).content.decode()
    assert all(CHILD not in r["nhs_number"] for r in export(client))


def test_trained_national_admin_searches_by_nhs_number_and_the_search_is_audited(client_for, role_user, child_events):
    admin = role_user(Role.NATIONAL_ADMIN)
    client = client_for(admin)
    assert search(client, nhs_number=CHILD).status_code == 302
    assert CHILD in client.get(client.searched).content.decode()
    searched = AuditEvent.objects.filter(action=AuditAction.AUDIT_SEARCHED)
    assert searched.exists() and all(s.user == admin and s.nhs_number == CHILD for s in searched)
    (row,) = not_about_the_search(export(client))
    assert row["nhs_number"] == CHILD and "notification_ids" in row["detail"]
