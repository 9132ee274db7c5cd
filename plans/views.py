from datetime import date, timedelta
from typing import TYPE_CHECKING, TypedDict, cast
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, Count, Q, When
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.access import role_required
from accounts.forms import post_data
from accounts.models import Role
from accounts.requests import CpisRequest, OrganisationRequest
from audit.models import AuditAction
from audit.services import audit_record
from core import kept_searches
from core.confirmations import confirmation_mark, confirmation_take
from core.csv_cells import csv_response
from core.dates import years_before
from core.formatting import date_format
from plans.access import access_plan_by_local_authority, access_upload_by_local_authority
from plans.forms import (
    ContactsForm,
    PlanCreateForm,
    PlanEditForm,
    PlanEndForm,
    PlanSearchForm,
    PlanUploadForm,
    errors_to_form,
)
from plans.models import PlanChangeSource, PlanType, RejectReason, UploadStatus, row_code
from plans.selectors import (
    ROW_CODE_LABELS,
    plan_ids_shown,
    plan_is_shown,
    plans_of_local_authority,
    upload_match_rate,
    uploads_recent,
)
from plans.services import la_contacts_update, plan_create, plan_end, plan_update, plan_withdraw
from plans.upload_rows import COLUMNS, REQUIRED_COLUMNS
from plans.uploads import (
    plan_upload_cancel,
    plan_upload_confirm,
    plan_upload_receive,
    rejected_rows_report,
    upload_progress,
)


class _SentChild(TypedDict):
    sent_nhs_number: str
    sent_name: str


if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    from plans.models import PlanUploadRejection

    # A rejection as the upload page shows it: with the child the row named, as sent.
    RejectionShown = WithAnnotations[PlanUploadRejection, _SentChild]

PAGE_SIZE = 25
# The search's criteria that go in its URL; the name or NHS number never does (plan_list).
_FILTERS = ("plan_type", "status")
READERS = (Role.PLAN_MANAGER, Role.SOCIAL_WORKER)


def _search_filter(plans, search: dict):
    query = search.get("q", "")
    if query.isdigit() and len(query) == 10:
        plans = plans.filter(nhs_number=query)
    elif query:
        for word in query.split():
            plans = plans.filter(Q(family_name__icontains=word) | Q(given_names__icontains=word))
    if search.get("plan_type"):
        plans = plans.filter(plan_type=search["plan_type"])
    status = search.get("status")
    if status == "open":
        plans = plans.filter(end_date__isnull=True, withdrawn=False)
    elif status == "ended":
        plans = plans.filter(end_date__isnull=False, withdrawn=False)
    elif status == "withdrawn":
        plans = plans.filter(withdrawn=True)
    elif status == "ending_soon":
        today = timezone.localdate()
        plans = plans.filter(withdrawn=False, end_date__gt=today, end_date__lte=today + timedelta(days=30))
    elif status == "turning_18":
        today = timezone.localdate()
        plans = plans.filter(
            end_date__isnull=True,
            withdrawn=False,
            plan_type__in=[PlanType.CPP, PlanType.LAC],
            date_of_birth__gt=years_before(today, 18),
            date_of_birth__lte=years_before(today + timedelta(days=30), 18),
        )
    return plans


PREVIEW_ACTION_ORDER = ("ended", "withdrawn", "reinstated", "updated", "created")
PREVIEW_ACTION_LABELS = {
    "created": "Add",
    "updated": "Update",
    "ended": "End",
    "withdrawn": "Withdraw",
    "reinstated": "Reinstate",
}


def change_value(value) -> str:
    """A value in the change history as people read it: "30 Nov 2026", "Yes", "Not set"."""
    if value is None or value == "":
        return "Not set"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, str) and len(value) == 10:
        try:
            return date_format(date.fromisoformat(value))
        except ValueError:
            pass
    return str(value)


def _list_query(search: dict, child_key: str = "") -> str:
    """The list's query string for `search`: the type and status as they are, the child only
    by the key its name or NHS number is kept under (core.kept_searches)."""
    params = {name: search[name] for name in _FILTERS if search.get(name)}
    if child_key:
        params[kept_searches.URL_PARAMETER] = child_key
    return urlencode(params)


@never_cache
@role_required(*READERS)
def plan_list(request: OrganisationRequest):
    # The search's query is in the URL, so results can be bookmarked and shared, except the
    # name or NHS number: that is POSTed, never in a URL, because request logs, browser history
    # and Referer headers carry URLs and must never carry a child's identity. The POST keeps it
    # in the session and redirects to the URL of the rest of the search (core.kept_searches).
    if request.method == "POST":
        if "clear" in request.POST:
            return redirect("plans:list")
        form = PlanSearchForm(request.POST)
        if form.is_valid():
            search = form.cleaned_data
            child_key = kept_searches.term_keep(request.session, "plans", search["q"]) if search["q"] else ""
            query = _list_query(search, child_key)
            return redirect(reverse("plans:list") + (f"?{query}" if query else ""))
        search, child_key, child_lost = {}, "", False
    else:
        child_key = request.GET.get(kept_searches.URL_PARAMETER, "")
        term = kept_searches.term_kept(request.session, "plans", child_key)
        # `q` in the URL itself is ignored, so no link or bookmark ever works with a name in it.
        form = PlanSearchForm({**{name: request.GET.get(name, "") for name in _FILTERS}, "q": term or ""})
        child_lost = bool(child_key) and term is None
        search = form.cleaned_data if form.is_valid() else {}
        if term is None:
            child_key = ""
    plans = _search_filter(plans_of_local_authority(organisation=request.organisation), search)
    page = Paginator(plans.order_by("family_name", "given_names", "start_date", "id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    shown_ids = plan_ids_shown(plans=page)
    query = search.get("q", "")
    searched_nhs = query if query.isdigit() and len(query) == 10 else ""
    audit_record(
        action=AuditAction.PLAN_LIST_VIEWED, request=request, nhs_number=searched_nhs,
        detail={
            "page": page.number, "shown": len(page.object_list), "total": page.paginator.count,
            "search": "nhs_number" if searched_nhs else ("name" if query else ""),
            "plan_type": search.get("plan_type", ""), "status": search.get("status", ""),
        },
    )  # fmt: skip
    return render(
        request,
        "plans/list.jinja",
        {
            "form": form,
            "search": search,
            "child_lost": child_lost,
            # The pages' links keep the search: "?plan_type=CPP&child=…&page=2".
            "page_query": _list_query(search, child_key),
            "page": page,
            "shown_ids": shown_ids,
            "can_edit": Role.PLAN_MANAGER in request.roles,
            # get_plan_type_display() flattens the choices again on every row.
            "plan_labels": dict(PlanType.choices),
        },
        status=400 if form.errors else 200,
    )


@never_cache
@role_required(*READERS)
def plan_detail(request: OrganisationRequest, plan_id: int):
    plan = access_plan_by_local_authority(request, plan_id)
    shown = plan_is_shown(plan=plan)
    history = list(plan.changes.select_related("upload"))
    audit_record(
        action=AuditAction.PLAN_VIEWED, request=request, nhs_number=plan.nhs_number, detail={"plan_id": plan.pk}
    )
    return render(
        request,
        "plans/detail.jinja",
        {
            "plan": plan,
            "shown": shown,
            "history": history,
            "source_labels": dict(PlanChangeSource.choices),
            "can_edit": Role.PLAN_MANAGER in request.roles,
            "can_see_uploads": Role.PLAN_MANAGER in request.roles,
            # The child view is the social worker's; it exists only while clinicians see a plan.
            "child_view_url": reverse("attendances:child_for_plan", kwargs={"plan_id": plan.pk})
            if shown and Role.SOCIAL_WORKER in request.roles
            else None,
            "change_value": change_value,
        },
    )


@never_cache
@role_required(Role.PLAN_MANAGER)
def plan_new(request: OrganisationRequest):
    form = PlanCreateForm(post_data(request))
    if request.method == "POST" and form.is_valid():
        try:
            plan = plan_create(organisation=request.organisation, by=request.user, request=request, **form.cleaned_data)
        except ValidationError as error:
            errors_to_form(form, error)
        else:
            messages.success(request, "Plan added")
            return redirect("plans:detail", plan_id=plan.pk)
    return render(request, "plans/new.jinja", {"form": form}, status=400 if form.errors else 200)


def _audit_plan_shown(request: CpisRequest, plan, page: str) -> None:
    # The forms show the child's name and NHS number too: each showing is a view of the plan.
    if request.method == "GET":
        audit_record(
            action=AuditAction.PLAN_VIEWED, request=request, nhs_number=plan.nhs_number,
            detail={"plan_id": plan.pk, "page": page},
        )  # fmt: skip


def _refuse_withdrawn(request: CpisRequest, plan):
    messages.info(request, "This plan was withdrawn (recorded in error), so it cannot be changed.")
    return redirect("plans:detail", plan_id=plan.pk)


@never_cache
@role_required(Role.PLAN_MANAGER)
def plan_edit(request: OrganisationRequest, plan_id: int):
    plan = access_plan_by_local_authority(request, plan_id)
    _audit_plan_shown(request, plan, "edit")
    if plan.withdrawn:
        return _refuse_withdrawn(request, plan)
    form = PlanEditForm(post_data(request), plan=plan)
    if request.method == "POST" and form.is_valid():
        try:
            plan_update(plan=plan, by=request.user, request=request, **form.cleaned_data)
        except ValidationError as error:
            errors_to_form(form, error)
        else:
            messages.success(request, "Plan updated")
            return redirect("plans:detail", plan_id=plan.pk)
    return render(
        request,
        "plans/edit.jinja",
        {"form": form, "plan": plan},
        status=400 if form.errors else 200,
    )


@never_cache
@role_required(Role.PLAN_MANAGER)
def plan_end_view(request: OrganisationRequest, plan_id: int):
    plan = access_plan_by_local_authority(request, plan_id)
    _audit_plan_shown(request, plan, "end")
    if plan.withdrawn:
        return _refuse_withdrawn(request, plan)
    if plan.end_date:
        messages.info(request, "This plan has already ended. Edit it to change the end date.")
        return redirect("plans:detail", plan_id=plan.pk)
    form = PlanEndForm(post_data(request))
    if request.method == "POST" and form.is_valid():
        try:
            plan_end(plan=plan, end_date=form.cleaned_data["end_date"], by=request.user, request=request)
        except ValidationError as error:
            errors_to_form(form, error)
        else:
            messages.success(request, "Plan ended")
            return redirect("plans:detail", plan_id=plan.pk)
    return render(
        request,
        "plans/end.jinja",
        {"form": form, "plan": plan},
        status=400 if form.errors else 200,
    )


@never_cache
@role_required(Role.PLAN_MANAGER)
def plan_withdraw_view(request: OrganisationRequest, plan_id: int):
    plan = access_plan_by_local_authority(request, plan_id)
    _audit_plan_shown(request, plan, "withdraw")
    if plan.withdrawn:
        return _refuse_withdrawn(request, plan)
    if request.method == "POST":
        plan_withdraw(plan=plan, by=request.user, request=request)
        messages.success(request, "Plan withdrawn. Clinicians will no longer see it.")
        return redirect("plans:detail", plan_id=plan.pk)
    return render(request, "plans/withdraw.jinja", {"plan": plan})


@never_cache
@role_required(Role.PLAN_MANAGER)
def upload(request: OrganisationRequest):
    posted = request.method == "POST"
    form = PlanUploadForm(request.POST if posted else None, request.FILES if posted else None)
    if posted and form.is_valid():
        file = form.cleaned_data["file"]
        new_upload = plan_upload_receive(
            organisation=request.organisation, by=request.user, filename=file.name, file=file, request=request
        )
        return redirect("plans:upload_detail", upload_id=new_upload.pk)
    recent = uploads_recent(organisation=request.organisation)
    match = upload_match_rate(organisation=request.organisation)
    return render(
        request,
        "plans/upload.jinja",
        {
            "form": form,
            "recent": recent,
            **match,
            "required_columns": REQUIRED_COLUMNS,
            "columns": COLUMNS,
        },
        status=400 if form.errors else 200,
    )


@never_cache
@role_required(Role.PLAN_MANAGER)
def upload_detail(request: OrganisationRequest, upload_id: int):
    the_upload = access_upload_by_local_authority(request, upload_id)
    audit_record(action=AuditAction.PLAN_UPLOAD_VIEWED, request=request, detail={"upload_id": the_upload.pk})
    rejections = cast("list[RejectionShown]", list(the_upload.rejections.all()[:100]))
    changes = None
    if the_upload.status == UploadStatus.PREVIEW:
        # Which children each change affects, grouped by kind of change, 50 to a page.
        order = Case(*(When(action=a, then=i) for i, a in enumerate(PREVIEW_ACTION_ORDER)), default=99)
        changes = Paginator(
            the_upload.changes_previewed.annotate(kind=order).order_by("kind", "line_number"), 50
        ).get_page(request.GET.get("page"))
    columns = the_upload.columns or list(COLUMNS)
    for rejection in rejections:
        # The child the row was about, as sent, so the LA can tell which record to correct.
        sent = dict(zip(columns, rejection.cells, strict=False))
        rejection.sent_nhs_number = sent.get("nhs_number", "").strip()
        rejection.sent_name = " ".join(
            part for part in (sent.get("given_names", "").strip(), sent.get("family_name", "").strip()) if part
        )
    reasons = the_upload.rejections.values("reason").annotate(rows=Count("id")).order_by("-rows", "reason")
    # The confirmation panel, once, when the file this manager confirmed has been applied: the
    # page the confirmation leads to (reloaded by its progress bar until the work is done).
    # Never for an upload opened later from the list, nor one refused or failed.
    applied_now = the_upload.is_finished and confirmation_take(request.session, "upload_confirmed", the_upload.pk)
    return render(
        request,
        "plans/upload_detail.jinja",
        {
            "upload": the_upload,
            "applied_now": applied_now and the_upload.status == UploadStatus.APPLIED,
            "progress": upload_progress(upload=the_upload),
            "rejections": rejections,
            "changes": changes,
            "action_labels": PREVIEW_ACTION_LABELS,
            "reasons": [(r["reason"], r["rows"]) for r in reasons],
            "row_code": row_code,
            "code_labels": ROW_CODE_LABELS,
            "UploadStatus": UploadStatus,
            "reason_labels": dict(RejectReason.choices),
        },
    )


@role_required(Role.PLAN_MANAGER)
@require_POST
def upload_confirm(request: OrganisationRequest, upload_id: int):
    the_upload = access_upload_by_local_authority(request, upload_id)
    if plan_upload_confirm(upload=the_upload, by=request.user, request=request):
        confirmation_mark(request.session, "upload_confirmed", the_upload.pk)
    else:
        messages.info(request, "This file has already been confirmed or cancelled.")
    return redirect("plans:upload_detail", upload_id=the_upload.pk)


@role_required(Role.PLAN_MANAGER)
@require_POST
def upload_cancel(request: OrganisationRequest, upload_id: int):
    the_upload = access_upload_by_local_authority(request, upload_id)
    if plan_upload_cancel(upload=the_upload, by=request.user, request=request):
        messages.success(request, "Upload cancelled. No plans were changed.")
    return redirect("plans:upload")


@never_cache
@role_required(Role.PLAN_MANAGER)
def upload_progress_view(request: OrganisationRequest, upload_id: int):
    the_upload = access_upload_by_local_authority(request, upload_id)
    return JsonResponse(upload_progress(upload=the_upload))


@never_cache
@role_required(Role.PLAN_MANAGER)
def upload_rejections(request: OrganisationRequest, upload_id: int):
    the_upload = access_upload_by_local_authority(request, upload_id)
    audit_record(
        action=AuditAction.PLAN_UPLOAD_REJECTIONS_DOWNLOADED, request=request, detail={"upload_id": the_upload.pk}
    )
    header, rows = rejected_rows_report(upload=the_upload)
    return csv_response(f"upload-{the_upload.pk}-rejected-rows.csv", header, rows)


@role_required(Role.PLAN_MANAGER)
def upload_template(request: OrganisationRequest):
    """An empty plan file with every column, in the order the service documents them."""
    return csv_response("cpis-plans-template.csv", list(COLUMNS), [])


@never_cache
@role_required(Role.PLAN_MANAGER)
def contacts(request: OrganisationRequest):
    organisation = request.organisation
    form = ContactsForm(
        post_data(request),
        initial={
            "office_hours_phone": organisation.office_hours_phone,
            "emergency_duty_phone": organisation.emergency_duty_phone,
            "team_mailbox": organisation.team_mailbox,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            la_contacts_update(organisation=organisation, by=request.user, request=request, **form.cleaned_data)
        except ValidationError as error:
            errors_to_form(form, error)
        else:
            messages.success(request, "Contact details saved")
            return redirect("plans:contacts")
    return render(request, "plans/contacts.jinja", {"form": form}, status=400 if form.errors else 200)
