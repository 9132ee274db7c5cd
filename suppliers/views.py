"""The register of supplier systems (national admins), its public list, and conformance runs:
opened and accredited by national admins, run by the supplier through the run's own link."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.access import role_required
from accounts.forms import post_data
from accounts.models import Role
from accounts.requests import CpisRequest, OrganisationRequest
from suppliers import access, selectors, services
from suppliers.conformance import conformance_run_open
from suppliers.forms import ConfirmationForm, LaRunOpenForm, SystemForm, SystemUseForm, WithdrawForm
from suppliers.judge import RULES, run_report
from suppliers.la_conformance import la_conformance_run_open, la_run_track
from suppliers.la_judge import la_run_report
from suppliers.la_scenarios import LA_SCENARIOS
from suppliers.models import SystemKind
from suppliers.scenarios import SCENARIOS

_NEW_RUN = "suppliers_new_run"
_NEW_LA_RUN = "suppliers_new_la_run"


def _status(form) -> int:
    return 400 if form.errors else 200


@login_not_required
@never_cache
def public_list(request: CpisRequest):
    """Published without sign-in: accredited systems and counts of live organisations only."""
    return render(request, "suppliers/public.jinja", {"rows": selectors.systems_accredited()})


@role_required(Role.NATIONAL_ADMIN)
def register(request: OrganisationRequest):
    return render(request, "suppliers/register.jinja", {"systems": selectors.systems_all()})


@never_cache
@role_required(Role.NATIONAL_ADMIN)
def system_create(request: OrganisationRequest):
    form = SystemForm(post_data(request))
    if request.method == "POST" and form.is_valid():
        system = services.system_create(fields=form.cleaned_data, request=request)
        messages.success(request, f"{system} has been added.")
        return redirect("suppliers:system_detail", system_id=system.pk)
    return render(request, "suppliers/system_form.jinja", {"form": form, "system": None}, status=_status(form))


@never_cache
@role_required(Role.NATIONAL_ADMIN)
def system_edit(request: OrganisationRequest, system_id: int):
    system = access.access_system(system_id)
    form = SystemForm(post_data(request), instance=access.access_system(system_id))
    if request.method == "POST" and form.is_valid():
        changed = services.system_update(system=system, fields=form.cleaned_data, request=request)
        messages.success(request, f"{system} has been saved." if changed else "Nothing was changed.")
        return redirect("suppliers:system_detail", system_id=system.pk)
    return render(request, "suppliers/system_form.jinja", {"form": form, "system": system}, status=_status(form))


def _system_page(request: OrganisationRequest, system, *, withdraw_form=None, la_run_form=None, status: int = 200):
    return render(
        request,
        "suppliers/system_detail.jinja",
        {
            "system": system,
            "runs": selectors.system_runs(system),
            "organisations": selectors.system_organisations(system),
            "withdraw_form": withdraw_form or WithdrawForm(),
            "la_runs": selectors.system_la_runs(system),
            "la_run_form": la_run_form or LaRunOpenForm(),
        },
        status=status,
    )


@role_required(Role.NATIONAL_ADMIN)
def system_detail(request: OrganisationRequest, system_id: int):
    return _system_page(request, access.access_system(system_id))


@role_required(Role.NATIONAL_ADMIN)
@require_POST
def system_withdraw(request: OrganisationRequest, system_id: int):
    system = access.access_system(system_id)
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        return _system_page(request, system, withdraw_form=form, status=400)
    services.system_withdraw(system=system, reason=form.cleaned_data["reason"], request=request)
    messages.success(request, f"The accreditation of {system} has been withdrawn.")
    return redirect("suppliers:system_detail", system_id=system.pk)


@role_required(Role.NATIONAL_ADMIN)
@require_POST
def run_open(request: OrganisationRequest, system_id: int):
    system = access.access_system(system_id)
    if not system.offers_fhir:
        messages.error(request, "Only a system with the FHIR API can run the FHIR conformance self-test.")
        return redirect("suppliers:system_detail", system_id=system.pk)
    opened = conformance_run_open(system=system, by=request.user, request=request)
    request.session[_NEW_RUN] = {
        "id": opened.run.pk,
        "clinician": opened.clinician_token,
        "lead": opened.lead_token,
        "link": request.build_absolute_uri(f"/conformance/{opened.access_key}/"),
    }
    return redirect("suppliers:run_report", run_id=opened.run.pk)


@role_required(Role.NATIONAL_ADMIN)
@require_POST
def organisation_systems(request: OrganisationRequest, organisation_id: int):
    organisation = access.access_organisation(organisation_id)
    form = SystemUseForm(request.POST, systems=selectors.systems_all())
    if form.is_valid():
        systems = selectors.systems_by_ids([int(pk) for pk in form.cleaned_data["systems"]])
        changed = services.system_uses_set(organisation=organisation, systems=systems, request=request)
        messages.success(request, "The systems it uses have been saved." if changed else "Nothing was changed.")
    else:
        messages.error(request, "Select systems from the list.")
    return redirect("administration:organisation_detail", organisation_id=organisation.pk)


@login_not_required
@never_cache
def supplier_run(request: CpisRequest, key: str):
    """The supplier's page: the run's script, and the tester's confirmations (no sign-in: the
    link is the key, and it names only synthetic children)."""
    run = access.access_run_by_key(key)
    form = ConfirmationForm(post_data(request))
    if request.method == "POST" and run.is_open and form.is_valid():
        services.conformance_confirm(
            run=run, answers=form.answers(), tester=form.cleaned_data["tester"], request=request
        )
        messages.success(request, "Your confirmations have been saved.")
        return redirect("suppliers:supplier_run", key=key)
    return render(
        request,
        "suppliers/supplier_run.jinja",
        {**_report_context(run), "form": form, "key": key, "base_url": request.build_absolute_uri("/fhir/R4")},
        status=_status(form),
    )


# LA case-management systems' runs, over MESH (suppliers/la_conformance.py, ADR-026).


@role_required(Role.NATIONAL_ADMIN)
@require_POST
def la_run_open(request: OrganisationRequest, system_id: int):
    system = access.access_system(system_id)
    if system.kind != SystemKind.LA_CASE_MANAGEMENT or not system.offers_mesh:
        messages.error(request, "Only an LA case-management system with MESH can run the LA conformance self-test.")
        return redirect("suppliers:system_detail", system_id=system.pk)
    form = LaRunOpenForm(request.POST)
    if not form.is_valid():
        return _system_page(request, system, la_run_form=form, status=400)
    opened = la_conformance_run_open(
        system=system, mailbox_id=form.cleaned_data["mailbox_id"], by=request.user, request=request
    )
    request.session[_NEW_LA_RUN] = {
        "id": opened.run.pk,
        "link": request.build_absolute_uri(f"/conformance/la/{opened.access_key}/"),
    }
    return redirect("suppliers:la_run_report", run_id=opened.run.pk)


# The supplier's page needs no sign-in, so loading it again and again must not become a stream
# of calls to MESH: each run asks at most once in this many seconds.
LA_TRACK_EVERY_SECONDS = 5


def _report_context(run) -> dict:
    return {"run": run, "report": run_report(run), "rules": RULES, "scenarios": SCENARIOS}


def _la_report_context(run) -> dict:
    # MESH is asked how what we sent stands; if it cannot answer, the report shows what it last knew.
    asks = cache.add(f"suppliers:la-run-track:{run.pk}", 1, timeout=LA_TRACK_EVERY_SECONDS)
    error = la_run_track(run) if asks else ""
    return {"run": run, "tracking_error": error, "report": la_run_report(run), "scenarios": LA_SCENARIOS}


@dataclass(frozen=True)
class RunKind:
    """A kind of conformance run as the national admin's pages see it; the URLs name one."""

    access: Callable[[int], Any]
    report_context: Callable[[Any], dict]
    # "run" or "la_run": the prefix of its URL names and templates.
    name: str
    new_run_key: str
    finished_message: str


FHIR_RUN = RunKind(
    access.access_run, _report_context, "run", _NEW_RUN, "The run has finished: its tokens no longer work."
)
LA_RUN = RunKind(
    access.access_la_run,
    _la_report_context,
    "la_run",
    _NEW_LA_RUN,
    "The run has finished: its mailbox no longer reaches the run's local authority.",
)


@never_cache
@role_required(Role.NATIONAL_ADMIN)
def run_report_view(request: OrganisationRequest, run_id: int, kind: RunKind):
    run = kind.access(run_id)
    secrets = request.session.pop(kind.new_run_key, None)
    new_run = secrets if secrets and secrets.get("id") == run.pk else None
    return render(request, f"suppliers/{kind.name}_report.jinja", {**kind.report_context(run), "new_run": new_run})


@never_cache
@role_required(Role.NATIONAL_ADMIN)
def run_print(request: OrganisationRequest, run_id: int, kind: RunKind):
    return render(request, f"suppliers/{kind.name}_print.jinja", kind.report_context(kind.access(run_id)))


@role_required(Role.NATIONAL_ADMIN)
@require_POST
def run_accredit(request: OrganisationRequest, run_id: int, kind: RunKind):
    run = kind.access(run_id)
    try:
        services.system_accredit(run=run, by=request.user, request=request)
    except ValidationError as error:
        messages.error(request, error.messages[0])
        return redirect(f"suppliers:{kind.name}_report", run_id=run.pk)
    messages.success(request, f"{run.system.supplier} {run.system.product} {run.version} is accredited.")
    return redirect("suppliers:system_detail", system_id=run.system_id)


@role_required(Role.NATIONAL_ADMIN)
@require_POST
def run_finish(request: OrganisationRequest, run_id: int, kind: RunKind):
    run = kind.access(run_id)
    services.conformance_run_finish(run=run, request=request)
    messages.success(request, kind.finished_message)
    return redirect(f"suppliers:{kind.name}_report", run_id=run.pk)


@login_not_required
@never_cache
def supplier_la_run(request: CpisRequest, key: str):
    """The LA system supplier's page: the script, and the tester's confirmations (no sign-in:
    the link is the key, and it names only synthetic children)."""
    run = access.access_la_run_by_key(key)
    form = ConfirmationForm(post_data(request), scenarios=LA_SCENARIOS)
    if request.method == "POST" and run.is_open and form.is_valid():
        services.conformance_confirm(
            run=run, answers=form.answers(), tester=form.cleaned_data["tester"], request=request
        )
        messages.success(request, "Your confirmations have been saved.")
        return redirect("suppliers:supplier_la_run", key=key)
    return render(
        request,
        "suppliers/supplier_la_run.jinja",
        {**_la_report_context(run), "form": form, "key": key, "service_mailbox": settings.MESH_MAILBOX_ID},
        status=_status(form),
    )
