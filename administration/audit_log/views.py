"""The audit viewer: national admins search everything, org admins their own organisation.

A search's query is in its URL (`?action=login&date_from=2026-12-01`), so results can be
bookmarked and shared and the CSV link exports the same search. An NHS number never is: a URL
ends up in proxy and access logs, browser history and Referer headers. The form is POSTed; the
NHS number is kept in the session (core.kept_searches) and the POST redirects to the search's
URL with the other criteria and a meaningless key for the child.

At national scale (20,000,000 events) nothing here counts the matching events: pages go newer
and older from an event's position (administration.audit_log.selectors.audit_events_page), and the CSV streams
from a server-side cursor, a chunk of rows at a time.
"""

import datetime as dt
import json
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts.access import gate_response, role_required, trained_user_gate
from accounts.models import Role
from accounts.requests import CpisRequest, OrganisationRequest
from administration.audit_log.forms import AuditSearchForm
from administration.audit_log.presentation import affected_by_event
from administration.audit_log.selectors import Position, audit_events_page, audit_events_search, audit_events_visible_to
from audit.masking import event_for_viewer
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record
from core import kept_searches
from core.csv_cells import csv_response
from cpis.replica import reads_may_lag

PAGE_SIZE = 50
# Rows per fetch from the export's server-side cursor: the export's memory, whatever its length.
EXPORT_CHUNK = 2000
# The criteria that go in a search's URL; the NHS number never does.
_URL_CRITERIA = ("user", "organisation", "action", "date_from", "date_to")


def _cleared(request: CpisRequest) -> bool:
    """Whether this viewer may see child identifiers: a national admin past the trained-user gate
    (investigations). Admin roles alone never are (SPEC 1)."""
    return Role.NATIONAL_ADMIN in request.roles and trained_user_gate(request).passed


def _events(request: CpisRequest, criteria: dict, *, cleared: bool):
    if not cleared:
        # A search kept from before the clearance lapsed must not keep working.
        criteria = {**criteria, "nhs_number": ""}
    visible = audit_events_visible_to(roles=request.roles, organisation=request.organisation)
    return audit_events_search(visible, criteria)


class _MaskedPage:
    """A page of events, each masked for the viewer as it is read, with its newer and older links
    (which keep the search's query)."""

    def __init__(self, page, *, cleared: bool, query: str):
        self.object_list = [event_for_viewer(e, cleared=cleared) for e in page.object_list]
        search = f"{query}&" if query else ""
        self.newer_url = f"?{search}after={page.newer.token()}" if page.newer else None
        self.older_url = f"?{search}before={page.older.token()}" if page.older else None


def _search_query(criteria: dict, child_key: str) -> str:
    params = {name: criteria[name] for name in _URL_CRITERIA if criteria.get(name)}
    if child_key:
        params[kept_searches.URL_PARAMETER] = child_key
    return urlencode(params)


class _Search:
    """The search a GET asks for: its URL's criteria and the NHS number kept under its `child` key."""

    def __init__(self, request: CpisRequest, *, national: bool):
        data = {name: request.GET[name] for name in _URL_CRITERIA if name in request.GET}
        for name in ("date_from", "date_to"):
            # The URL's ISO date shown in the form's three boxes as a person types it ("9", not "09").
            try:
                day = dt.date.fromisoformat(data[name]) if data.get(name) else None
            except ValueError:
                continue  # left as it is, for the form to refuse
            if day:
                del data[name]
                data.update(
                    {f"{name}_day": str(day.day), f"{name}_month": str(day.month), f"{name}_year": str(day.year)}
                )
        key = request.GET.get(kept_searches.URL_PARAMETER, "")
        nhs_number = kept_searches.term_kept(request.session, "audit", key) if national else None
        # An `nhs_number` in the URL itself is ignored: no link ever searches by one.
        if nhs_number:
            data["nhs_number"] = nhs_number
        self.child_lost = bool(key) and not nhs_number
        self.child_key = key if nhs_number else ""
        self.form = AuditSearchForm(data, national=national)
        self.criteria = self.form.criteria() if self.form.is_valid() else {}
        self.query = _search_query(self.criteria, self.child_key)


@never_cache
@role_required(Role.NATIONAL_ADMIN, Role.ORG_ADMIN)
@reads_may_lag
def events(request: OrganisationRequest):
    national = Role.NATIONAL_ADMIN in request.roles
    if request.method == "POST":
        if "clear" in request.POST:
            return redirect("audit:events")
        form = AuditSearchForm(request.POST, national=national)
        if form.is_valid():
            criteria = form.criteria()
            child_key = ""
            if criteria["nhs_number"]:
                # Only national admins have the field; a search by child needs the same gate as
                # any other look at child data, and a refusal is audited by the gate.
                gate = trained_user_gate(request)
                if not gate.passed:
                    return gate_response(request, gate)
                child_key = kept_searches.term_keep(request.session, "audit", criteria["nhs_number"])
            query = _search_query(criteria, child_key)
            return redirect(reverse("audit:events") + (f"?{query}" if query else ""))
        criteria, query, child_lost = {}, "", False
    else:
        search = _Search(request, national=national)
        form, criteria, query, child_lost = search.form, search.criteria, search.query, search.child_lost
        paging = "before" in request.GET or "after" in request.GET
        if any(criteria.values()) and not paging:
            # Searching the log is itself an access worth recording, the more so by NHS number:
            # each time a search is run, from the form or from a bookmark (not for each page).
            audit_record(
                action=AuditAction.AUDIT_SEARCHED,
                request=request,
                nhs_number=criteria["nhs_number"] if _cleared(request) else "",
                detail={"criteria": sorted(k for k, v in criteria.items() if v)},
            )
    cleared = _cleared(request)
    page = audit_events_page(
        _events(request, criteria, cleared=cleared),
        older_than=Position.parse(request.GET.get("before")),
        newer_than=Position.parse(request.GET.get("after")),
        size=PAGE_SIZE,
    )
    return render(
        request,
        "audit/events.jinja",
        {
            "form": form,
            "page": _MaskedPage(page, cleared=cleared, query=query),
            "affected": affected_by_event(page.object_list),
            "searched": any(criteria.values()),
            "child_lost": child_lost,
            "query": query,
            "national": national,
            "role_labels": {r.value: r.label for r in Role},
            # get_FOO_display() flattens the ~75 choices on every call: 100 times a page.
            "action_labels": dict(AuditAction.choices),
            "outcome_labels": dict(AuditOutcome.choices),
        },
        status=400 if form.errors else 200,
    )


@role_required(Role.NATIONAL_ADMIN, Role.ORG_ADMIN)
@reads_may_lag
def events_csv(request: OrganisationRequest):
    # The same search as the page it is linked from: its query string, and the NHS number kept
    # under its key. A search that does not validate exports as no search, as the page shows it.
    search = _Search(request, national=Role.NATIONAL_ADMIN in request.roles)
    criteria = search.criteria
    cleared = _cleared(request)
    found = _events(request, criteria, cleared=cleared)
    # One probe past the limit, not a count: a count of the whole log reads every row.
    limit = settings.AUDIT_EXPORT_MAX_ROWS
    if found[limit : limit + 1].exists():
        messages.error(
            request,
            f"These events are more than {limit:,}, more than one download can hold. Narrow the "
            "search (a shorter date range, or one user, organisation or action) and download again.",
        )
        return redirect(reverse("audit:events") + (f"?{search.query}" if search.query else ""))
    # No row count: counting an export of the whole log would read it twice.
    audit_record(
        action=AuditAction.AUDIT_EXPORTED,
        request=request,
        nhs_number=criteria.get("nhs_number", "") if cleared else "",
        detail={"criteria": sorted(k for k, v in criteria.items() if v)},
    )

    def rows():
        # In a transaction, the cursor is a plain server-side one, read as the response is sent;
        # outside one (autocommit) PostgreSQL would first copy the whole result WITH HOLD, and a
        # pooler in transaction mode could hand the next fetch another server. On the database
        # the rows are read from: the replica when one serves this search (cpis/replica.py).
        with transaction.atomic(using=found.db):
            for event in found.iterator(chunk_size=EXPORT_CHUNK):
                yield _csv_row(event_for_viewer(event, cleared=cleared))

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


def _csv_row(event) -> list:
    return [
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
