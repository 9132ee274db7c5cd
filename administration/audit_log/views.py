"""The audit viewer: national admins search everything, org admins their own organisation.

Searches are POSTed and kept in the session, so an NHS number never appears in a URL (and so
never in a proxy or access log); the results page and the CSV read the search from there.

At national scale (20,000,000 events) nothing here counts the matching events: pages go newer
and older from an event's position (administration.audit_log.selectors.audit_events_page), and the CSV streams
from a server-side cursor, a chunk of rows at a time.
"""

import datetime as dt
import json

from django.db import transaction
from django.shortcuts import redirect, render
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
from core.csv_cells import csv_response
from cpis.replica import reads_may_lag

PAGE_SIZE = 50
# Rows per fetch from the export's server-side cursor: the export's memory, whatever its length.
EXPORT_CHUNK = 2000
_SESSION_KEY = "audit_search"


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
    """A page of events, each masked for the viewer as it is read, with its newer and older links."""

    def __init__(self, page, *, cleared: bool):
        self.object_list = [event_for_viewer(e, cleared=cleared) for e in page.object_list]
        self.newer_url = f"?after={page.newer.token()}" if page.newer else None
        self.older_url = f"?before={page.older.token()}" if page.older else None


def _initial(criteria: dict) -> dict:
    initial = dict(criteria)
    for key in ("date_from", "date_to"):
        try:
            initial[key] = dt.date.fromisoformat(criteria[key]) if criteria.get(key) else None
        except (TypeError, ValueError):
            initial[key] = None
    return initial


@never_cache
@role_required(Role.NATIONAL_ADMIN, Role.ORG_ADMIN)
@reads_may_lag
def events(request: OrganisationRequest):
    national = Role.NATIONAL_ADMIN in request.roles
    if request.method == "POST":
        if "clear" in request.POST:
            request.session.pop(_SESSION_KEY, None)
            return redirect("audit:events")
        form = AuditSearchForm(request.POST, national=national)
        if form.is_valid():
            criteria = form.criteria()
            if criteria["nhs_number"]:
                # Only national admins have the field; a search by child needs the same gate as
                # any other look at child data, and a refusal is audited by the gate.
                gate = trained_user_gate(request)
                if not gate.passed:
                    return gate_response(request, gate)
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
            "page": _MaskedPage(page, cleared=cleared),
            "affected": affected_by_event(page.object_list),
            "searched": bool(criteria),
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
    criteria = request.session.get(_SESSION_KEY, {})
    cleared = _cleared(request)
    found = _events(request, criteria, cleared=cleared)
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
