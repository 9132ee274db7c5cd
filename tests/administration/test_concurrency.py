"""Two admins removed at the same moment: the organisation still keeps one (a real race on
PostgreSQL, with two connections)."""

import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from accounts.models import Membership, Role
from administration.services import role_remove
from tests.factories import OrganisationFactory, user_with_role

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_removals_never_leave_an_organisation_without_an_admin():
    organisation = OrganisationFactory()
    first = user_with_role(Role.ORG_ADMIN, organisation)
    second = user_with_role(Role.ORG_ADMIN, organisation)
    first_in, outcomes = threading.Event(), {}

    def remove_first():
        try:
            with transaction.atomic():
                role_remove(membership=Membership.objects.get(user=first, role=Role.ORG_ADMIN), by=second)
                first_in.set()
                # Hold the transaction open while the other removal starts.
                time.sleep(0.5)
            outcomes["first"] = "removed"
        finally:
            connection.close()

    def remove_second():
        try:
            first_in.wait(5)
            role_remove(membership=Membership.objects.get(user=second, role=Role.ORG_ADMIN), by=first)
            outcomes["second"] = "removed"
        except ValidationError:
            outcomes["second"] = "refused"
        finally:
            connection.close()

    threads = [threading.Thread(target=remove_first), threading.Thread(target=remove_second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    # Without the row lock the second removal would count two admins and both would go.
    assert outcomes == {"first": "removed", "second": "refused"}
    assert list(
        Membership.objects.filter(organisation=organisation, role=Role.ORG_ADMIN).values_list("user", flat=True)
    ) == [second.pk]
