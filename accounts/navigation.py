"""The links on the home page and in the header, each shown only to the roles that may use it.

Apps add their entries here as they arrive, so the navigation has one source.
"""

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse

from accounts.models import Role


@dataclass(frozen=True)
class Link:
    url_name: str
    text: str
    roles: frozenset[str]


LINKS: list[Link] = [
    Link("attendances:check", "Check a child", frozenset({"clinician", "safeguarding_lead"})),
    Link("attendances:view_silently", "View without notifying", frozenset({"safeguarding_lead"})),
    Link("attendances:child_find", "Find a child", frozenset({"social_worker"})),
    Link(
        "fhir:token_list",
        "API tokens for your patient record system",
        frozenset({Role.CLINICIAN, Role.SAFEGUARDING_LEAD}),
    ),
    Link("notifications:inbox", "Notifications inbox", frozenset({Role.SOCIAL_WORKER})),
    Link(
        "notifications:deliveries_failed",
        "Failed notification deliveries",
        frozenset({Role.ORG_ADMIN, Role.NATIONAL_ADMIN}),
    ),
    Link("administration:index", "Administration", frozenset({"org_admin", "national_admin"})),
    Link("audit:events", "Audit log", frozenset({"org_admin", "national_admin"})),
]

LINKS.append(Link("plans:list", "Children's plans", frozenset({Role.PLAN_MANAGER, Role.SOCIAL_WORKER})))
LINKS.append(Link("plans:upload", "Upload plans", frozenset({Role.PLAN_MANAGER})))
LINKS.append(Link("plans:contacts", "Contact details for clinicians", frozenset({Role.PLAN_MANAGER})))


def links_for(roles: frozenset[str]) -> list[dict]:
    result = []
    for link in LINKS:
        if roles & link.roles:
            try:
                result.append({"href": reverse(link.url_name), "text": link.text})
            except NoReverseMatch:
                continue
    return result


LINKS.append(Link("operations:service_health", "Service health", frozenset({Role.NATIONAL_ADMIN})))
LINKS.append(Link("operations:la_deliveries", "Notification delivery", frozenset({Role.ORG_ADMIN})))
LINKS.append(
    Link("notifications:webhook_settings", "Webhook to your case-management system", frozenset({Role.ORG_ADMIN}))
)
