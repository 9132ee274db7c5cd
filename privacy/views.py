"""The privacy officer's pages: alerts and their triage, and "who has looked at this child";
the national admin's counts. Every NHS number and name on them is behind the gate."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.access import role_required
from accounts.forms import post_data
from accounts.models import Role
from accounts.requests import OrganisationRequest
from audit.models import AuditAction
from audit.services import audit_record
from core.csv_cells import csv_response
from privacy import selectors
from privacy.access import access_alert_by_reviewer
from privacy.forms import AccessReportForm, AlertCloseForm, InvestigationOpenForm
from privacy.services import alert_close, child_access_report, investigation_open

# Who reviews alerts: an organisation's privacy officers, and the national admins those about an
# organisation's only privacy officer (privacy/access.py).
REVIEWERS = (Role.PRIVACY_OFFICER, Role.NATIONAL_ADMIN)


def _alerts_home(request: OrganisationRequest) -> str:
    return "privacy:home" if Role.PRIVACY_OFFICER in request.roles else "privacy:national"


@never_cache
@role_required(Role.PRIVACY_OFFICER)
def home(request: OrganisationRequest):
    return render(
        request,
        "privacy/home.jinja",
        {
            "alerts": selectors.alerts_not_closed(organisation=request.organisation, officer=request.user),
            "counts": selectors.rule_counts(organisation=request.organisation),
        },
    )


def _alert_page(request: OrganisationRequest, alert, *, investigation_form=None, close_form=None, status=200):
    audit_record(
        action=AuditAction.PRIVACY_ALERT_VIEWED,
        request=request,
        detail={"alert_id": alert.pk, "rule": alert.rule, "unmasked": alert.unmasked},
    )
    return render(
        request,
        "privacy/alert.jinja",
        {
            "alert": alert,
            "evidence": selectors.alert_evidence(alert),
            "investigation_form": investigation_form or InvestigationOpenForm(),
            "close_form": close_form or AlertCloseForm(),
            "back": _alerts_home(request),
        },
        status=status,
    )


@never_cache
@role_required(*REVIEWERS)
def alert_detail(request: OrganisationRequest, alert_id: int):
    return _alert_page(request, access_alert_by_reviewer(request, alert_id))


def _form_error(form, error: ValidationError) -> None:
    form.add_error(None, error.messages)


@never_cache
@role_required(*REVIEWERS)
@require_POST
def investigation_open_view(request: OrganisationRequest, alert_id: int):
    alert = access_alert_by_reviewer(request, alert_id)
    form = InvestigationOpenForm(post_data(request))
    if form.is_valid():
        try:
            investigation_open(alert=alert, by=request.user, reason=form.cleaned_data["reason"], request=request)
        except ValidationError as error:
            _form_error(form, error)
        else:
            messages.success(request, "Investigation opened: the NHS numbers are shown")
            return redirect("privacy:alert", alert_id=alert.pk)
    return _alert_page(request, alert, investigation_form=form, status=400)


@never_cache
@role_required(*REVIEWERS)
@require_POST
def alert_close_view(request: OrganisationRequest, alert_id: int):
    alert = access_alert_by_reviewer(request, alert_id)
    form = AlertCloseForm(post_data(request))
    if form.is_valid():
        try:
            alert_close(
                alert=alert,
                by=request.user,
                outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data["note"],
                request=request,
            )
        except ValidationError as error:
            _form_error(form, error)
        else:
            messages.success(request, "Outcome recorded")
            return redirect(_alerts_home(request))
    return _alert_page(request, alert, close_form=form, status=400)


@never_cache
@role_required(Role.NATIONAL_ADMIN)
def national(request: OrganisationRequest):
    return render(
        request,
        "privacy/national.jinja",
        {
            "organisations": selectors.national_counts(),
            "escalated": selectors.alerts_escalated_not_closed(reviewer=request.user),
        },
    )


ROLE_LABELS = dict(Role.choices)


def _access_rows(report, *, include_names: bool) -> list[dict]:
    return [
        {
            "at": event.occurred_at,
            "organisation": event.organisation.name if event.organisation else "",
            "ods_code": event.organisation.ods_code if event.organisation else "",
            "roles": ", ".join(ROLE_LABELS.get(r, r) for r in event.roles.split(",") if r),
            "action": event.get_action_display(),
            "outcome": event.get_outcome_display(),
            "name": (event.user.full_name if event.user else "") if include_names else "Withheld",
        }
        for event in report.accesses
    ]


@never_cache
@role_required(Role.PRIVACY_OFFICER)
def access_report(request: OrganisationRequest):
    form = AccessReportForm(post_data(request))
    report = rows = None
    if request.method == "POST" and form.is_valid():
        report = child_access_report(
            nhs_number=form.cleaned_data["nhs_number"],
            organisation=request.organisation,
            by=request.user,
            include_names=form.cleaned_data["include_names"],
            as_csv=False,
            request=request,
        )
        rows = _access_rows(report, include_names=form.cleaned_data["include_names"])
    return render(
        request,
        "privacy/access_report.jinja",
        {"form": form, "report": report, "rows": rows},
        status=400 if form.errors else 200,
    )


CSV_HEADER = ["When", "Organisation", "ODS code", "Role", "What", "Outcome", "Staff name"]


@never_cache
@role_required(Role.PRIVACY_OFFICER)
@require_POST
def access_report_csv(request: OrganisationRequest):
    form = AccessReportForm(post_data(request))
    if not form.is_valid():
        return render(request, "privacy/access_report.jinja", {"form": form}, status=400)
    include_names = form.cleaned_data["include_names"]
    report = child_access_report(
        nhs_number=form.cleaned_data["nhs_number"],
        organisation=request.organisation,
        by=request.user,
        include_names=include_names,
        as_csv=True,
        request=request,
    )
    rows = (
        [r["at"].isoformat(), r["organisation"], r["ods_code"], r["roles"], r["action"], r["outcome"], r["name"]]
        for r in _access_rows(report, include_names=include_names)
    )
    return csv_response("who-has-looked.csv", CSV_HEADER, rows)
