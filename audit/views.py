"""The audit viewer: national admins search everything, org admins their own organisation.

Searches are POSTed and kept in the session, so an NHS number never appears in a URL (and so
never in a proxy or access log); the results page and the CSV read the search from there.
"""

import json

from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts.access import role_required
from accounts.models import Role
from audit.csv_cells import csv_response
from audit.forms import AuditSearchForm
from audit.models import AuditAction
from audit.presentation import affected_by_event
from audit.selectors import audit_events_search, audit_events_visible_to
from audit.services import audit_record

PAGE_SIZE = 50
_SESSION_KEY = "audit_search"


def _events(request, criteria: dict):
    visible = audit_events_visible_to(roles=request.roles, organisation=request.organisation)
    return audit_events_search(visible, criteria)


def _initial(criteria: dict) -> dict:
    import datetime as dt

    initial = dict(criteria)
    for key in ("date_from", "date_to"):
        initial[key] = dt.date.fromisoformat(criteria[key]) if criteria.get(key) else None
    return initial


@role_required(Role.NATIONAL_ADMIN, Role.ORG_ADMIN)
@never_cache
def events(request):
    national = Role.NATIONAL_ADMIN in request.roles
    if request.method == "POST":
        if "clear" in request.POST:
            request.session.pop(_SESSION_KEY, None)
            return redirect("audit:events")
        form = AuditSearchForm(request.POST, national=national)
        if form.is_valid():
            criteria = form.criteria()
            request.session[_SESSION_KEY] = criteria
            # Searching the log is itself an access worth recording, the more so by NHS number.
            audit_record(
                action=AuditAction.AUDIT_SEARCHED,
                request=request,
                nhs_number=criteria["nhs_number"],
                detail={"criteria": sorted(k for k, v in criteria.items() if v)},
            )
            return redirect("audit:events")
        criteria = {}
    else:
        criteria = request.session.get(_SESSION_KEY, {})
        form = AuditSearchForm(initial=_initial(criteria), national=national)
    page = Paginator(_events(request, criteria), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "audit/events.jinja",
        {
            "form": form,
            "page": page,
            "affected": affected_by_event(page.object_list),
            "searched": bool(criteria),
            "national": national,
            "role_labels": {r.value: r.label for r in Role},
        },
        status=400 if form.errors else 200,
    )


@role_required(Role.NATIONAL_ADMIN, Role.ORG_ADMIN)
def events_csv(request):
    criteria = request.session.get(_SESSION_KEY, {})
    found = _events(request, criteria)
    audit_record(
        action=AuditAction.AUDIT_EXPORTED,
        request=request,
        nhs_number=criteria.get("nhs_number", ""),
        detail={"criteria": sorted(k for k, v in criteria.items() if v), "rows": found.count()},
    )

    def rows():
        for event in found.iterator(chunk_size=2000):
            yield [
                timezone.localtime(event.occurred_at).isoformat(timespec="seconds"),
                event.user.email if event.user else "",
                event.user.full_name if event.user else "",
                event.roles,
                event.organisation.ods_code if event.organisation else "",
                event.action,
                event.nhs_number,
                event.ip_address or "",
                event.outcome,
                event.trace_id,
                json.dumps(event.detail, sort_keys=True),
            ]

    return csv_response(
        f"audit-{timezone.localdate():%Y%m%d}.csv",
        [
            "occurred_at",
            "user_email",
            "user_name",
            "roles",
            "organisation",
            "action",
            "nhs_number",
            "ip_address",
            "outcome",
            "trace_id",
            "detail",
        ],
        rows(),
    )
