"""The organisation page's "Supplier systems" section (administration's hook, ADR-010)."""

from django.urls import reverse

from accounts.models import Organisation
from accounts.requests import CpisRequest
from administration.organisation_sections import organisation_section_register
from suppliers import selectors
from suppliers.forms import SystemUseForm


@organisation_section_register
def systems_section(request: CpisRequest, organisation: Organisation) -> dict:
    used = selectors.systems_used_by(organisation)
    systems = selectors.systems_all()
    form = SystemUseForm(initial={"systems": [str(pk) for pk in used]}, systems=systems)
    return {
        "template": "suppliers/_organisation_systems.jinja",
        "form": form,
        "used": [s for s in systems if s.pk in used],
        "action": reverse("suppliers:organisation_systems", kwargs={"organisation_id": organisation.pk}),
    }
