"""Sections that apps above administration add to the organisation page (ADR-010's hook: the
supplier systems an organisation uses, from suppliers/, which sits above this app)."""

from collections.abc import Callable

from accounts.models import Organisation
from accounts.requests import CpisRequest

_SECTIONS: list[Callable[[CpisRequest, Organisation], dict]] = []


def organisation_section_register(
    section: Callable[[CpisRequest, Organisation], dict],
) -> Callable[[CpisRequest, Organisation], dict]:
    """`section(request, organisation)` returns its template's context, with `template` in it."""
    if section not in _SECTIONS:
        _SECTIONS.append(section)
    return section


def organisation_sections(request: CpisRequest, organisation: Organisation) -> list[dict]:
    return [section(request, organisation) for section in _SECTIONS]
