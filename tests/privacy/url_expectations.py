"""Who may use the privacy pages (see tests/url_permissions.py): the privacy officers of the care
setting and of the local authority, each for their own organisation's alerts; the national
admin's counts, and the alerts about an organisation's only privacy officer."""

import itertools

from django.utils import timezone

from privacy.models import Alert, AlertRule, AlertStatus
from tests.factories import nhs_number_for
from tests.url_permissions import Expect, World

_keys = itertools.count()


def _alert(world: World, persona: str, own: bool, **fields) -> Alert:
    at_la = persona == "la_privacy_officer"
    if persona == "national_admin":
        # Theirs to review: an alert about the care setting's only privacy officer; another's,
        # one its privacy officer reviews.
        organisation = world.care_setting
        subject = world.users["privacy_officer" if own else "clinician"]
    elif at_la:
        organisation = world.la if own else world.other_la
        subject = world.users["social_worker"]
    else:
        organisation = world.care_setting if own else world.other_care_setting
        subject = world.users["clinician"]
    return Alert.objects.create(
        organisation=organisation, user=subject, rule=AlertRule.VOLUME, dedupe_key=f"url-{next(_keys)}",
        explanation="31 checks in 12 hours", **fields,
    )  # fmt: skip


def _open_alert(world: World, persona: str, own: bool) -> dict:
    return {"alert_id": _alert(world, persona, own).pk}


def _investigated_alert(world: World, persona: str, own: bool) -> dict:
    alert = _alert(
        world, persona, own, status=AlertStatus.INVESTIGATING, investigation_reason="A complaint",
        investigated_at=timezone.now(),
    )  # fmt: skip
    return {"alert_id": alert.pk}


OFFICERS_200 = {"privacy_officer": 200, "la_privacy_officer": 200}
OFFICERS_404 = {"privacy_officer": 404, "la_privacy_officer": 404}
REVIEWERS_200 = {**OFFICERS_200, "national_admin": 200}
REVIEWERS_302 = {"privacy_officer": 302, "la_privacy_officer": 302, "national_admin": 302}
REVIEWERS_404 = {**OFFICERS_404, "national_admin": 404}

EXPECTATIONS = [
    Expect("privacy:home", statuses=OFFICERS_200),
    Expect(
        "privacy:alert", statuses=REVIEWERS_200, kwargs=_open_alert, other_statuses=REVIEWERS_404, other_default=403
    ),
    Expect(
        "privacy:investigation_open",
        method="post",
        data={"reason": "The family asked who looked"},
        statuses=REVIEWERS_302,
        kwargs=_open_alert,
        other_statuses=REVIEWERS_404,
        other_default=403,
    ),
    Expect(
        "privacy:alert_close",
        method="post",
        data={"outcome": "no_concern", "note": "Treating clinician"},
        statuses=REVIEWERS_302,
        kwargs=_investigated_alert,
        other_statuses=REVIEWERS_404,
        other_default=403,
    ),
    Expect("privacy:national", statuses={"national_admin": 200}),
    Expect("privacy:access_report", statuses=OFFICERS_200),
    Expect("privacy:access_report_csv", method="post", data={"nhs_number": nhs_number_for(1)}, statuses=OFFICERS_200),
]
