"""Reports for admins: their own organisation's, or every organisation's side by side for a
national admin. Counts and durations only; no child is named."""

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Page, Paginator
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from accounts.access import role_required
from accounts.forms import organisations_in_region, region_choices, region_filter
from accounts.models import OrganisationKind, Role
from accounts.requests import CpisRequest, OrganisationRequest
from core.csv_cells import csv_response
from cpis.replica import reads_may_lag
from reports.charts import bar_chart
from reports.forms import ReportRangeForm
from reports.metrics import (
    ACCEPTANCE_TARGET,
    care_setting_report,
    care_setting_reports,
    local_authority_report,
    local_authority_reports,
)
from reports.progress import go_live_page, go_live_states, progress_counts
from reports.selectors import organisations_active
from reports.trends import Trend, national_trend, weekly_trend

# Organisations of each kind one page of the national report shows side by side: a page costs
# the same whatever the number of organisations (the CSV export has them all).
NATIONAL_PAGE_SIZE = 50


def _page_links(request: OrganisationRequest, name: str, page: Page) -> dict:
    """The pagination macro's links for one of the national tables, keeping the range and the
    other table's page."""

    def link(number: int) -> dict:
        query = request.GET.copy()
        query[name] = str(number)
        return {"href": f"?{query.urlencode()}"}

    return {
        "previous": link(page.previous_page_number()) if page.has_previous() else None,
        "next": link(page.next_page_number()) if page.has_next() else None,
    }


def _reports(request: OrganisationRequest, start, end, *, paged: bool = True) -> dict:
    organisation = request.organisation
    if Role.NATIONAL_ADMIN in request.roles:
        active = organisations_active()
        las_all = active.filter(kind=OrganisationKind.LOCAL_AUTHORITY)
        settings_all = active.filter(kind=OrganisationKind.CARE_SETTING)
        if not paged:
            return {
                "scope": "national",
                "las": local_authority_reports(las_all, start, end, per_day=False),
                "settings": care_setting_reports(settings_all, start, end, per_day=False),
            }
        la_page = Paginator(las_all, NATIONAL_PAGE_SIZE).get_page(request.GET.get("la_page"))
        setting_page = Paginator(settings_all, NATIONAL_PAGE_SIZE).get_page(request.GET.get("setting_page"))
        return {
            "scope": "national",
            "las": local_authority_reports(la_page.object_list, start, end, per_day=False),
            "settings": care_setting_reports(setting_page.object_list, start, end, per_day=False),
            "la_page": la_page,
            "setting_page": setting_page,
            "la_links": _page_links(request, "la_page", la_page),
            "setting_links": _page_links(request, "setting_page", setting_page),
        }
    if organisation.is_local_authority:
        return {"scope": "la", "las": [local_authority_report(organisation, start, end)], "settings": []}
    if organisation.is_care_setting:
        return {"scope": "setting", "las": [], "settings": [care_setting_report(organisation, start, end)]}
    return {"scope": "none", "las": [], "settings": []}


def _trend_charts(trend: Trend) -> list:
    """One small chart per figure of the weekly trend, each with its own numbers; the trend's
    table beside them holds them all."""
    labels = [f"{week.monday:%-d %b}" for week in trend.weeks]
    charts = []
    if trend.shows_checks:
        charts.append(
            bar_chart(
                id="checks-per-week",
                title="Checks per week",
                points=[(label, week.checks) for label, week in zip(labels, trend.weeks, strict=True)],
            )
        )
        charts.append(
            bar_chart(
                id="alerts-per-week",
                title="Alerts per week (checks that found a plan)",
                points=[(label, week.alerts) for label, week in zip(labels, trend.weeks, strict=True)],
            )
        )
    if trend.shows_notifications:
        charts.append(
            bar_chart(
                id="notifications-per-week",
                title="Notifications per week",
                points=[(label, week.notifications) for label, week in zip(labels, trend.weeks, strict=True)],
            )
        )
        charts.append(
            bar_chart(
                id="median-hours-per-week",
                title="Median hours to acknowledge, by week notified",
                # A week with nothing acknowledged has no bar (and "–" in the table).
                points=[(label, week.median_hours or 0) for label, week in zip(labels, trend.weeks, strict=True)],
            )
        )
    return charts


def _charts(data: dict) -> list:
    charts = []
    if data["scope"] == "setting":
        report = data["settings"][0]
        charts.append(
            bar_chart(
                id="checks-per-day",
                title="Checks per day",
                points=[(f"{day:%-d %b}", checks) for day, checks, _ in report.days],
            )
        )
    elif data["scope"] == "national":
        charts.append(
            bar_chart(
                id="notifications-by-la",
                title="Notifications by local authority",
                points=[(r.organisation.name, r.notifications) for r in data["las"]],
            )
        )
        charts.append(
            bar_chart(
                id="acceptance-by-la",
                title="Upload rows accepted, by local authority (%)",
                points=[(r.organisation.name, r.acceptance_rate or 0) for r in data["las"]],
                unit="%",
                maximum=100,
                rule=ACCEPTANCE_TARGET,
                rule_label=f"the go-live rule, {ACCEPTANCE_TARGET:g}% accepted",
            )
        )
        charts.append(
            bar_chart(
                id="checks-by-setting",
                title="Checks by care setting",
                points=[(r.organisation.name, r.checks) for r in data["settings"]],
            )
        )
    return charts


@never_cache
@role_required(Role.ORG_ADMIN, Role.NATIONAL_ADMIN)
@reads_may_lag
def report(request: OrganisationRequest):
    form = ReportRangeForm(request.GET or None)
    start, end = form.range()
    data = _reports(request, start, end)
    if data["scope"] == "national":
        # Every active organisation's days, not one page's: the country's trend, from the kept
        # national row per day.
        trend = national_trend(
            start,
            end,
            shows_checks=data["setting_page"].paginator.count > 0,
            shows_notifications=data["la_page"].paginator.count > 0,
        )
    else:
        trend = weekly_trend(data["las"], data["settings"], start, end)
    return render(
        request,
        "reports/report.jinja",
        {
            "form": form,
            "start": start,
            "end": end,
            "charts": _charts(data),
            "trend": trend,
            "trend_charts": _trend_charts(trend) if trend.weeks and data["scope"] != "none" else [],
            "target": ACCEPTANCE_TARGET,
            "query": request.GET.urlencode(),
            **data,
        },
        status=400 if form.is_bound and form.errors else 200,
    )


def _hours(value) -> str:
    return "" if value is None else f"{value:g}"


@role_required(Role.ORG_ADMIN, Role.NATIONAL_ADMIN)
@reads_may_lag
def report_csv(request: OrganisationRequest):
    form = ReportRangeForm(request.GET or None)
    start, end = form.range()
    data = _reports(request, start, end, paged=False)
    filename = f"cpis-report-{start:%Y%m%d}-{end:%Y%m%d}.csv"
    rows: Iterable[list[Any]]
    if data["scope"] == "la":
        rows = ([f"{monday:%Y-%m-%d}", count] for monday, count in data["las"][0].weeks)
        return csv_response(filename, ["week_starting", "notifications"], rows)
    if data["scope"] == "setting":
        rows = ([f"{day:%Y-%m-%d}", checks, alerts] for day, checks, alerts in data["settings"][0].days)
        return csv_response(filename, ["day", "checks", "alerts"], rows)
    header = [
        "ods_code", "organisation", "kind", "notifications", "acknowledged", "median_hours_to_acknowledge",
        "p90_hours_to_acknowledge", "overdue", "upload_rows", "accepted_rows", "acceptance_rate", "checks", "alerts",
        "alert_share",
    ]  # fmt: skip
    rows = [
        [r.organisation.ods_code, r.organisation.name, "local authority", r.notifications, r.acknowledged,
         _hours(r.median_hours), _hours(r.p90_hours), r.overdue, r.rows, r.accepted, _hours(r.acceptance_rate),
         "", "", ""]
        for r in data["las"]
    ] + [
        [r.organisation.ods_code, r.organisation.name, "care setting", "", "", "", "", "", "", "", "", r.checks,
         r.alerts, _hours(r.alert_share)]
        for r in data["settings"]
    ]  # fmt: skip
    return csv_response(filename, header, rows)


@login_not_required
@never_cache
@reads_may_lag
def progress_public(request: CpisRequest):
    """Published without sign-in: counts by kind of organisation, nothing about a person."""
    return render(request, "reports/progress_public.jinja", progress_counts())


@never_cache
@role_required(Role.NATIONAL_ADMIN)
@reads_may_lag
def progress_organisations(request: OrganisationRequest):
    """Every organisation's go-live state; filtered by region and by state (`live`, `not_live`),
    the national dashboard's figure opening the live ones."""
    region = region_filter(request)
    state = request.GET.get("state", "")
    if state not in ("live", "not_live"):
        state = ""
    organisations = organisations_active().exclude(kind=OrganisationKind.NATIONAL)
    page = go_live_page(
        organisations_in_region(organisations, region).order_by("kind", "name", "pk"), state, request.GET.get("page")
    )
    filters = urlencode({k: v for k, v in (("region", region), ("state", state)) if v})
    return render(
        request,
        "reports/progress_organisations.jinja",
        {
            "page": page,
            "filters": filters,
            "region": region,
            "regions": region_choices(region),
            "state": state,
            "state_choices": [
                {"value": v, "text": t, "selected": v == state}
                for v, t in (("", "Live or not"), ("live", "Live"), ("not_live", "Not live yet"))
            ],
        },
    )


@never_cache
@role_required(Role.ORG_ADMIN)
def go_live_checklist(request: OrganisationRequest):
    states = go_live_states([request.organisation])
    return render(request, "reports/go_live.jinja", {"state": states[0] if states else None})
