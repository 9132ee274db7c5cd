"""The links on the home page and in the header.

A link names only a URL and its words. Who sees it is read from the view behind the URL (the
roles `role_required` stores on it) and the trained-user gate, through `may_use`: the same rule
that guards the view, so a link is shown exactly when following it would not be refused.
"""

from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from threading import Lock
from typing import Any

from django.urls import resolve, reverse

from accounts.access import may_use, needs_gate, trained_user_gate
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


# One entry per role set, kind of organisation, gate answer and path: a few hundred at most.
_LINKS_KEPT_MAX = 2048
_links_kept: OrderedDict[tuple, list[dict[str, Any]]] = OrderedDict()
_links_lock = Lock()


def _may_use_inputs(request: CpisRequest) -> tuple:
    """Everything `may_use` reads of a request, so the links can be kept under it: the roles
    held, whether the organisation is a local authority, and whether the gate passes now."""
    organisation = getattr(request, "organisation", None)
    in_la = organisation is not None and organisation.is_local_authority
    return request.roles, in_la, needs_gate(request.roles) and trained_user_gate(request).passed


def links_for(request: CpisRequest, *, header_only: bool = False) -> list[dict[str, Any]]:
    """The links `request` may follow, each with whether it is the page or its section.

    Worked out once per worker for each answer `may_use` could give (the key holds all it
    reads) and path, and kept: the header's links cost every page a gate and 21 checks.
    """
    key = (header_only, request.path, *_may_use_inputs(request))
    with _links_lock:
        kept = _links_kept.get(key)
        if kept is not None:
            _links_kept.move_to_end(key)
    if kept is None:
        kept = _links_worked_out(request, header_only=header_only)
        with _links_lock:
            _links_kept[key] = kept
            while len(_links_kept) > _LINKS_KEPT_MAX:
                _links_kept.popitem(last=False)
    return [dict(item) for item in kept]


def _links_worked_out(request: CpisRequest, *, header_only: bool) -> list[dict[str, Any]]:
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
