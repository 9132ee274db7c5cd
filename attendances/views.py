"""The check journey's pages: check a child, view without notifying, the LA's child view.

Results are rendered in the response to the POST, never behind a GET URL: child data never
appears in a URL, and a refresh re-sends the same form token, which records nothing new.
"""

import uuid

from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts.access import role_required
from accounts.forms import post_data
from accounts.models import Role
from accounts.requests import CpisRequest, OrganisationRequest
from attendances import display
from attendances.forms import ChildCheckForm, ChildFindForm
from attendances.services import (
    CHECKING_ROLES,
    SILENT_READ_ROLES,
    CheckFormExpired,
    CheckRateLimited,
    checking_role,
    checks_today,
    child_check,
    child_view_by_local_authority,
)
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record, refused_url_detail
from notifications.access import access_notification_by_social_worker
from plans.access import access_plan_by_local_authority


def _form_token(form: ChildCheckForm) -> str:
    """The token the page carries: the posted one while it is valid, else a fresh one."""
    if form.is_bound:
        try:
            return str(uuid.UUID(str(form.data.get("check_token", ""))))
        except ValueError:
            pass
    return str(uuid.uuid4())


def _check(request: OrganisationRequest, *, notify: bool):
    form = ChildCheckForm(post_data(request))
    if request.method == "POST" and form.is_valid():
        try:
            result = _child_check_from_form(request, form, notify=notify)
        except (CheckRateLimited, CheckFormExpired) as refused:
            form.add_error(None, str(refused))
            return render(
                request,
                "attendances/check.jinja",
                {"form": form, "notify": notify, "check_token": str(uuid.uuid4())},
                status=429 if isinstance(refused, CheckRateLimited) else 400,
            )
        return render(
            request,
            "attendances/result.jinja",
            # `now` for the print footer: printed at, printed by.
            {"result": result, "notify": notify, "now": timezone.now(), **display.helpers()},
        )
    return render(
        request,
        "attendances/check.jinja",
        {"form": form, "notify": notify, "check_token": _form_token(form)},
        status=400 if form.errors else 200,
    )


def _child_check_from_form(request: OrganisationRequest, form: ChildCheckForm, *, notify: bool):
    return child_check(
        nhs_number=form.cleaned_data["nhs_number"],
        date_of_birth=form.cleaned_data["date_of_birth"],
        arrived_at=form.cleaned_data["arrived_at"],
        user=request.user,
        organisation=request.organisation,
        role=checking_role(request.roles, notify=notify),
        notify=notify,
        request=request,
        idempotency_key=form.cleaned_data["check_token"],
    )


@never_cache
@role_required(*CHECKING_ROLES)
def child_check_view(request: OrganisationRequest):
    return _check(request, notify=True)


@never_cache
@role_required(*SILENT_READ_ROLES)
def child_view_silently(request: OrganisationRequest):
    return _check(request, notify=False)


@never_cache
@role_required(*CHECKING_ROLES)
def checks_today_view(request: OrganisationRequest):
    """The home page's "checks you made today", listed: only the user's own, at this setting.

    It shows the NHS numbers and names the user looked up, so it is a view of child data and
    audited as one (the count only: the NHS numbers are in the checks' own events).
    """
    on_plan_only = request.GET.get("result") == "plan"
    checks = checks_today(user=request.user, organisation=request.organisation, on_plan_only=on_plan_only)
    audit_record(
        action=AuditAction.CHILD_CHECKS_LISTED,
        request=request,
        detail={"checks": len(checks), "on_plan_only": on_plan_only},
    )
    return render(
        request,
        "attendances/checks_today.jinja",
        {"checks": checks, "on_plan_only": on_plan_only, **display.helpers()},
    )


def _access_audited(request: CpisRequest, access, object_id: int, what: str):
    """The LA's own object through its app's access helper; a refusal (another LA's id, or none)
    is a 404 like any other, and recorded as a denied look at a child, without saying whose."""
    try:
        return access(request, object_id)
    except Http404:
        audit_record(
            action=AuditAction.CHILD_VIEWED_BY_LA,
            request=request,
            outcome=AuditOutcome.DENIED,
            detail={**refused_url_detail(request), f"{what}_id": object_id},
        )
        raise


def _child_page(request: CpisRequest, record, *, back: dict | None = None):
    return render(request, "attendances/child.jinja", {"record": record, "back": back, **display.helpers()})


@never_cache
@role_required(Role.SOCIAL_WORKER)
def child_find(request: OrganisationRequest):
    form = ChildFindForm(post_data(request))
    not_found = None
    if request.method == "POST" and form.is_valid():
        record = child_view_by_local_authority(
            nhs_number=form.cleaned_data["nhs_number"],
            organisation=request.organisation,
            user=request.user,
            request=request,
        )
        if record is not None:
            return _child_page(request, record)
        not_found = form.cleaned_data["nhs_number"]
    return render(
        request,
        "attendances/find.jinja",
        {"form": form, "not_found": not_found, **display.helpers()},
        status=400 if form.errors else 200,
    )


@never_cache
@role_required(Role.SOCIAL_WORKER)
def child_for_plan(request: OrganisationRequest, plan_id: int):
    plan = _access_audited(request, access_plan_by_local_authority, plan_id, "plan")
    record = child_view_by_local_authority(
        nhs_number=plan.nhs_number, organisation=request.organisation, user=request.user, request=request
    )
    if record is None:  # the LA holds the plan, but clinicians no longer see it (ended, withdrawn)
        raise Http404
    return _child_page(
        request, record, back={"href": reverse("plans:detail", args=[plan.pk]), "text": "Back to the plan"}
    )


@never_cache
@role_required(Role.SOCIAL_WORKER)
def child_for_notification(request: OrganisationRequest, notification_id: int):
    """From the LA's inbox to the child: only while the LA still holds a visible plan."""
    notification = _access_audited(request, access_notification_by_social_worker, notification_id, "notification")
    record = child_view_by_local_authority(
        nhs_number=notification.nhs_number, organisation=request.organisation, user=request.user, request=request
    )
    if record is None:
        raise Http404
    back = reverse("notifications:notification_detail", kwargs={"notification_id": notification.pk})
    return _child_page(request, record, back={"href": back, "text": "Back to the notification"})
