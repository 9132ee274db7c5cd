"""The expectations behind tests/test_url_permissions.py: every URL × every persona.

Each app lists its URLs in `tests/<app>/url_expectations.py` as `EXPECTATIONS`, a list of
`Expect`. The walk fails on any URL the resolver knows that has no expectation, so a new URL
cannot ship without saying who may use it.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from accounts.models import Organisation

PERSONAS = [
    "anonymous",
    "clinician",
    "safeguarding_lead",
    "social_worker",
    "plan_manager",
    "la_admin",
    "setting_admin",
    "national_admin",
    # The privacy officers of the care setting and of the local authority (privacy/).
    "privacy_officer",
    "la_privacy_officer",
    # Child-data roles stopped at the trained-user gate (no current training record).
    "untrained_clinician",
    "untrained_social_worker",
]


@dataclass
class World:
    """The organisations every persona belongs to, plus one more of each kind ("other")."""

    care_setting: Organisation
    other_care_setting: Organisation
    la: Organisation
    other_la: Organisation
    national: Organisation
    users: dict = field(default_factory=dict)


@dataclass
class Expect:
    name: str
    # persona → expected status; personas not listed get `default`.
    statuses: dict[str, int] = field(default_factory=dict)
    default: int = 403
    anonymous: int = 302
    method: str = "get"
    data: dict | None = None
    # For URLs about one object: builds the URL kwargs for an object of the persona's own
    # organisation (own=True) or of another organisation (own=False).
    kwargs: Callable[[World, str, bool], dict] | None = None
    # Statuses for another organisation's object; anything unlisted gets `other_default`.
    other_statuses: dict[str, int] = field(default_factory=dict)
    other_default: int = 404

    def expected(self, persona: str, own: bool = True) -> int:
        if persona == "anonymous":
            return self.anonymous
        if own or self.kwargs is None:
            return self.statuses.get(persona, self.default)
        return self.other_statuses.get(persona, self.other_default)


def everyone(status: int) -> dict[str, int]:
    return {p: status for p in PERSONAS if p != "anonymous"}
