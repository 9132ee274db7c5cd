"""Walks every URL the project defines, for anonymous users and every persona, own and other
organisation, and fails on any URL without an expectation (see tests/url_permissions.py)."""

import importlib
import pkgutil

import pytest
from django.db.models import Max
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

import tests
from accounts.models import Role
from audit.models import AuditEvent, AuditOutcome
from tests.conftest import signed_in
from tests.factories import OrganisationFactory, user_with_role
from tests.url_permissions import PERSONAS, World

# Operators' tools with their own authentication (Django admin requires staff and 2FA).
IGNORED_NAMESPACES = {"admin"}


def _named_patterns(resolver: URLResolver, namespace: str = "") -> list[str]:
    names = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            if ns in IGNORED_NAMESPACES:
                continue
            names += _named_patterns(entry, f"{namespace}{ns}:" if ns else namespace)
        elif isinstance(entry, URLPattern):
            assert entry.name, f"URL {entry.pattern} has no name, so the permission walk cannot cover it"
            names.append(namespace + entry.name)
    return names


def _all_expectations() -> dict:
    found = {}
    for module in pkgutil.iter_modules(tests.__path__):
        if not module.ispkg:
            continue
        try:
            expectations = importlib.import_module(f"tests.{module.name}.url_expectations")
        except ModuleNotFoundError:
            continue
        for expect in expectations.EXPECTATIONS:
            assert expect.name not in found, f"two expectations for {expect.name}"
            found[expect.name] = expect
    return found


EXPECTATIONS = _all_expectations()
URL_NAMES = _named_patterns(get_resolver())


def test_every_url_has_an_expectation():
    missing = sorted(set(URL_NAMES) - set(EXPECTATIONS))
    assert not missing, f"URLs with no permission expectation: {missing}"
    stale = sorted(set(EXPECTATIONS) - set(URL_NAMES))
    assert not stale, f"expectations for URLs that no longer exist: {stale}"


@pytest.fixture
def world(db):
    w = World(
        care_setting=OrganisationFactory(ods_code="RDE01"),
        other_care_setting=OrganisationFactory(ods_code="RFW01", setting_type="MIU"),
        la=OrganisationFactory(local_authority=True, ods_code="LA001"),
        other_la=OrganisationFactory(local_authority=True, ods_code="LA002"),
        national=OrganisationFactory(national=True, ods_code="X26"),
    )
    w.users = {
        "clinician": user_with_role(Role.CLINICIAN, w.care_setting),
        "safeguarding_lead": user_with_role(Role.SAFEGUARDING_LEAD, w.care_setting),
        "social_worker": user_with_role(Role.SOCIAL_WORKER, w.la),
        "plan_manager": user_with_role(Role.PLAN_MANAGER, w.la),
        "la_admin": user_with_role(Role.ORG_ADMIN, w.la),
        "setting_admin": user_with_role(Role.ORG_ADMIN, w.care_setting),
        "national_admin": user_with_role(Role.NATIONAL_ADMIN, w.national),
        "privacy_officer": user_with_role(Role.PRIVACY_OFFICER, w.care_setting),
        "la_privacy_officer": user_with_role(Role.PRIVACY_OFFICER, w.la),
        "untrained_clinician": user_with_role(Role.CLINICIAN, w.care_setting, trained=False),
        "untrained_social_worker": user_with_role(Role.SOCIAL_WORKER, w.la, trained=False),
    }
    return w


def _client(world: World, persona: str) -> Client:
    client = Client()
    if persona != "anonymous":
        signed_in(client, world.users[persona])
    return client


@pytest.mark.parametrize("name", sorted(EXPECTATIONS))
def test_url_answers_each_persona_as_expected(world, name):
    expect = EXPECTATIONS[name]
    failures = []
    for persona in PERSONAS:
        for own in (True, False) if expect.kwargs else (True,):
            kwargs = expect.kwargs(world, persona, own) if expect.kwargs else {}
            url = reverse(name, kwargs=kwargs or None)
            already = AuditEvent.objects.aggregate(last=Max("id"))["last"] or 0
            response = getattr(_client(world, persona), expect.method)(url, expect.data or {})
            wanted = expect.expected(persona, own)
            where = f"{persona} ({'own' if own else 'other'} organisation)"
            if response.status_code != wanted:
                failures.append(f"{where}: {response.status_code}, expected {wanted}")
            elif wanted in (403, 404) and persona != "anonymous":
                # Every refusal is audited with the URL name and the object ids asked for.
                refusals = AuditEvent.objects.filter(
                    id__gt=already, user=world.users[persona], outcome=AuditOutcome.DENIED
                )
                ids = {k: v for k, v in kwargs.items() if k.endswith("_id")}
                if not any(
                    e.detail.get("url_name") == name and all(e.detail.get(k) == v for k, v in ids.items())
                    for e in refusals
                ):
                    failures.append(f"{where}: {wanted} with no denied audit event naming {name} {ids}")
    assert not failures, f"{name}:\n" + "\n".join(failures)
