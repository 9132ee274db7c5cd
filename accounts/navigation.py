"""The links on the home page and in the header.

A link names only a URL and its words. Who sees it is read from the view behind the URL (the
roles `role_required` stores on it) and the trained-user gate, through `may_use`: the same rule
that guards the view, so a link is shown exactly when following it would not be refused.
"""

from dataclasses import dataclass
from functools import cache
from typing import Any

from django.urls import resolve, reverse

from accounts.access import may_use
from accounts.requests import CpisRequest


@dataclass(frozen=True)
class Link:
    url_name: str
    text: str
    # The header has room for a few areas; the home page lists every link.
    in_header: bool = False


LINKS: list[Link] = [
    Link("attendances:check", "Check a child", in_header=True),
    Link("attendances:view_silently", "View without notifying"),
    Link("attendances:checks_today", "Your checks today"),
    Link("notifications:inbox", "Notifications", in_header=True),
    Link("attendances:child_find", "Find a child", in_header=True),
    Link("plans:list", "Children's plans", in_header=True),
    Link("plans:upload", "Upload plans", in_header=True),
    Link("plans:contacts", "Contact details for clinicians"),
    Link("fhir:token_list", "API tokens for your patient record system"),
    Link("administration:index", "Administration", in_header=True),
    Link("notifications:deliveries_failed", "Failed notification deliveries"),
    Link("reports:report", "Reports", in_header=True),
    Link("reports:go_live", "Go-live checklist"),
    Link("reports:progress_organisations", "Implementation progress by organisation"),
    Link("audit:events", "Audit log", in_header=True),
    Link("operations:service_health", "Service health", in_header=True),
    Link("operations:la_deliveries", "Notification delivery"),
    Link("notifications:webhook_settings", "Webhook to your case-management system"),
    Link("privacy:home", "Access-pattern alerts", in_header=True),
    Link("privacy:access_report", "Who has looked at a child"),
    Link("privacy:national", "Access-pattern alerts by organisation"),
]


@cache
def allowed_roles(url_name: str) -> tuple[str, frozenset[str], bool]:
    """(path, roles the view allows, local authorities only?) for a URL name. A link to a URL
    that is not there raises NoReverseMatch: every page would fail, and the tests find it."""
    path = reverse(url_name)
    view = resolve(path).func
    roles = getattr(view, "allowed_roles", None)
    if roles is None:
        raise TypeError(f"{url_name} is not guarded by role_required, so no link can say who may use it")
    return path, roles, getattr(view, "local_authority_only", False)


def links_for(request: CpisRequest, *, header_only: bool = False) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for link in LINKS:
        if header_only and not link.in_header:
            continue
        path, roles, local_authority_only = allowed_roles(link.url_name)
        if may_use(request, roles, local_authority_only=local_authority_only):
            result.append({"href": path, "text": link.text, "current": request.path == path, "active": False})
    # The section the page is in: the longest link path it starts with (/plans/uploads/3/ is
    # in "Upload plans", not also in "Children's plans").
    within = [item for item in result if request.path.startswith(item["href"])]
    if within:
        max(within, key=lambda item: len(item["href"]))["active"] = True
    return result
