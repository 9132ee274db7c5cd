"""No input produces a 5xx (issue 12 finding 8).

Every URL the resolver knows is driven, as a persona who gets past its role check, with hostile
values in every parameter any form of the project declares (found from the forms' fields, the
date-parts sub-fields included) and the query parameters the views read, by GET and by POST;
after each POST the same page is read again, because a bad value kept in the session (the
audit search) used to break the page until sign-out.
"""

import base64
import importlib
import json
import pkgutil
import time

import pytest
from django import forms
from django.test import Client
from django.urls import reverse

from fhir.services import api_token_issue
from single_sign_on.models import ClientAuthMethod, IdentityProvider
from tests.conftest import signed_in
from tests.test_url_permissions import EXPECTATIONS, URL_NAMES, world  # noqa: F401 - world is a fixture

PROJECT_APPS = (
    "accounts",
    "administration",
    "audit",
    "plans",
    "attendances",
    "notifications",
    "fhir",
    "mesh",
    "privacy",
)

# Query parameters views read directly rather than through a form. (Not the audit page's "clear"
# button: sent with everything else it would skip the search form it is there to exercise.)
QUERY_PARAMETERS = {"page", "before", "after", "timeout", "next", "patient:identifier", "_include", "_count", "reason"}
# Fields views read from the body themselves: the back-channel logout's token.
QUERY_PARAMETERS |= {"logout_token"}

# Every request header the FHIR API reads.
FHIR_HEADERS = ("Authorization", "TraceID", "IsUnscheduledAccessEvent", "IsUnscheduledEvent", "Accept", "Prefer")
HOSTILE_VALUES = [
    "31/12/9999",
    "9999-12-31",
    "0001-01-01",
    "99999999999999999999999",
    "-1",
    "",
    "\x00",
    "<script>alert(1)</script>",
    "' OR '1'='1' --",
    "%00%ff",
    "A" * 5000,
    "١٢٣٤",
    "1e309",
    "https://fhir.nhs.uk/Id/nhs-number|9999999999",
    "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}",
    "application/json+fhir",
]


def _project_forms() -> list[type[forms.BaseForm]]:
    for app in PROJECT_APPS:
        package = importlib.import_module(app)
        for module in pkgutil.walk_packages(package.__path__, prefix=f"{app}."):
            if "migrations" not in module.name and "management" not in module.name:
                importlib.import_module(module.name)
    found, pending = [], [forms.BaseForm]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in PROJECT_APPS:
            found.append(cls)
    return found


def _parameter_names() -> tuple[set[str], set[str]]:
    """Every parameter name, and the names of date-parts fields (day, month and year boxes)."""
    names, date_parts = set(QUERY_PARAMETERS), set()
    for form_class in _project_forms():
        for name, field in getattr(form_class, "base_fields", {}).items():
            names.add(name)
            widget = field.widget
            if isinstance(widget, forms.MultiWidget):
                names.update(f"{name}{suffix}" for suffix in widget.widgets_names)
                date_parts.add(name)
    return names, date_parts


_NAMES, DATE_PARTS = _parameter_names()
PARAMETERS = sorted(_NAMES)
# Whole dates typed into the day, month and year boxes: each box alone is valid.
DATE_CASES = [("31", "12", "9999"), ("1", "1", "1"), ("29", "2", "2100")]


def _cases():
    for value in HOSTILE_VALUES:
        yield repr(value[:30]), dict.fromkeys(PARAMETERS, value)
    for day, month, year in DATE_CASES:
        data = dict.fromkeys(PARAMETERS, "")
        for name in DATE_PARTS:
            data.update({f"{name}_day": day, f"{name}_month": month, f"{name}_year": year})
        # The ordinary date fields and the check form's date of birth, as text.
        data.update({"date_from": f"{day}/{month}/{year}", "date_to": f"{day}/{month}/{year}"})
        data.update({"dob_day": day, "dob_month": month, "dob_year": year})
        yield f"{day}/{month}/{year}", data


def test_the_fuzz_covers_the_project_forms():
    # A guard against the discovery silently finding nothing.
    assert {"nhs_number", "date_to_day", "date_to", "completed_on_year", "course", "role"} <= set(PARAMETERS)
    assert {"password", "code", "remove_passkeys", "name", "mailbox_id"} <= set(PARAMETERS)
    assert {"date_from", "date_to", "completed_on"} <= DATE_PARTS
    assert len(URL_NAMES) >= 50


# Addresses an LA admin could type to make the webhook settings probe our own network, or to
# trip the address check itself (ADR-011): each is refused with a message, never a 5xx, and
# nothing is saved.
HOSTILE_WEBHOOK_ADDRESSES = [
    "https://127.0.0.1:5432/",
    "https://[::1]:6379/",
    "https://0.0.0.0/",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:a9fe:a9fe]/",
    "https://[fe80::1%25eth0]/",
    "https://[64:ff9b::7f00:1]/",
    "https://0x7f000001/",
    "https://2130706433/",
    "https://017700000001/",
    "https://127.1/",
    "https://localhost./",
    "https://xn--/",
    "https://a..b/",
    f"https://{'a' * 64}.example/",
    f"https://{'a.' * 130}example/",
    "https://例え.テスト/",
    "https://user:pass@127.0.0.1/",
    "https://127.0.0.1:99999/",
    "https://127.0.0.1:0/",
    "https:///path",
    "http://example.org/",
    "ftp://example.org/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_FLUSHALL",
]


@pytest.mark.parametrize("url", HOSTILE_WEBHOOK_ADDRESSES)
def test_a_hostile_webhook_address_is_refused_without_a_server_error(world, url):  # noqa: F811 - the fixture
    from notifications.models import WebhookEndpoint

    client = signed_in(Client(raise_request_exception=False), world.users["la_admin"])
    response = client.post(reverse("notifications:webhook_settings"), {"url": url, "is_active": "on"})
    assert response.status_code == 400
    assert 'class="nhsuk-error-summary"' in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def _personas_for(name: str) -> list[str]:
    expect = EXPECTATIONS[name]
    allowed = [p for p in expect.statuses if expect.statuses[p] < 400] or []
    if expect.default < 400:
        allowed.append("clinician")
    if expect.anonymous < 400 and expect.anonymous != 302:
        allowed.append("anonymous")
    # One persona that reaches the view is enough to drive its forms; the matrix does the rest.
    return sorted(set(allowed))[:1] or ["anonymous"]


@pytest.mark.parametrize("name", sorted(URL_NAMES))
def test_no_hostile_input_gives_a_server_error(world, name):  # noqa: F811 - the fixture
    expect = EXPECTATIONS[name]
    failures, cases = [], 0
    for persona in _personas_for(name):
        client = Client(raise_request_exception=False)
        headers = {}
        if persona != "anonymous":
            signed_in(client, world.users[persona])
            # As just after the password and a code, so the pages behind "Confirm it is you"
            # (adding a passkey) get the hostile values too.
            session = client.session
            session["reauthenticated_at"] = time.time()
            session.save()
        if name.startswith("fhir:") and name not in ("fhir:token_list", "fhir:token_revoke"):
            _, raw = api_token_issue(
                user=world.users["safeguarding_lead"], organisation=world.care_setting, name="fuzz", valid_days=1
            )
            headers = {"Authorization": f"Bearer {raw}", "TraceID": "fuzz-1"}
        for label, data in _cases():
            owner = persona if persona != "anonymous" else "clinician"
            kwargs = expect.kwargs(world, owner, True) if expect.kwargs else {}
            url = reverse(name, kwargs=kwargs or None)
            for method in ("get", "post", "get"):
                response = getattr(client, method)(url, data, headers=headers)
                cases += 1
                if response.status_code >= 500:
                    failures.append(f"{persona} {method.upper()} {name} with {label}: {response.status_code}")
            # The API reads its headers too: each hostile value in each of them.
            for header in FHIR_HEADERS if headers else ():
                value = data[PARAMETERS[0]].replace("\x00", "")
                response = client.get(url, headers={**headers, header: value})
                cases += 1
                if response.status_code >= 500:
                    failures.append(f"{persona} GET {name} with {header}: {label}: {response.status_code}")
    assert not failures, "\n".join(failures[:20])


def _unsigned(header: dict, claims) -> str:
    def part(value) -> str:
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}.c2ln"


# Logout tokens shaped to reach each step of the check: the header, the claims naming (or not)
# a provider, the provider of the URL matrix's world (its keys cannot be fetched), the key id.
HOSTILE_LOGOUT_TOKENS = [
    _unsigned({"alg": "none"}, {"iss": "http://127.0.0.1:9", "aud": "cpis"}),
    _unsigned({"alg": "RS256", "kid": "../" * 200}, {"iss": "http://127.0.0.1:9", "aud": ["cpis"] * 1000}),
    _unsigned({"alg": "HS256"}, {"iss": "http://127.0.0.1:9", "aud": "cpis", "iat": "yesterday"}),
    _unsigned({"alg": "RS256"}, {"iss": ["http://127.0.0.1:9"], "aud": {"a": 1}}),
    _unsigned({"alg": "RS256"}, {"iss": "\x00", "aud": None}),
    _unsigned({"alg": "RS256"}, [1, 2, 3]),
    _unsigned({"alg": "RS256"}, b"\xff\xfe not json"),
    _unsigned({"alg": "RS256", "kid": 7}, {"iss": "http://127.0.0.1:9/", "aud": "cpis", "iat": 1e309}),
    "a.b",
    "." * 5000,
    "eyJ" * 2000,
]


def test_hostile_logout_tokens_get_a_clear_answer(world):  # noqa: F811 - the fixture
    # The tokens' issuer and client: a provider of ours, down.
    IdentityProvider.objects.create(
        organisation=world.care_setting,
        name="Fuzzed provider",
        issuer="http://127.0.0.1:9",
        client_id="cpis",
        client_auth_method=ClientAuthMethod.CLIENT_SECRET_BASIC,
        client_secret="secret",
        is_enabled=True,
    )
    url = reverse("single_sign_on:back_channel_logout")
    failures = []
    for token in HOSTILE_LOGOUT_TOKENS + HOSTILE_VALUES:
        response = Client(raise_request_exception=False).post(url, {"logout_token": token})
        # 503 only where the token names a provider whose keys cannot be fetched: the provider
        # is asked to send it again (docs/single-sign-on.md).
        if response.status_code not in (400, 429, 503) or "error" not in response.json():
            failures.append(f"{token[:60]!r}: {response.status_code}")
    assert not failures, "\n".join(failures)


# Receipt bodies shaped to reach each step of GOV.UK Notify's callback: not JSON, not an object,
# each field the wrong type or size, references that are ours in form only.
HOSTILE_RECEIPTS = [
    b"\xff\xfe not json",
    b"[1, 2, 3]",
    b"null",
    b'"delivered"',
    json.dumps({"id": None, "status": "delivered"}).encode(),
    json.dumps({"id": "x" * 5000, "status": "delivered"}).encode(),
    json.dumps({"id": "n", "status": ["delivered"]}).encode(),
    json.dumps({"id": "n", "status": "delivered", "reference": "delivery-" + "9" * 40}).encode(),
    json.dumps({"id": "n", "status": "delivered", "reference": "delivery--1"}).encode(),
    json.dumps({"id": "n", "status": "delivered", "reference": {"a": 1}}).encode(),
    json.dumps({"id": "n", "status": "permanent-failure", "reference": "delivery-1", "completed_at": "1e309"}).encode(),
    json.dumps({"id": "n", "status": "delivered", "reference": "delivery-1", "completed_at": ["x"]}).encode(),
    b"{" * 5000,
] + [json.dumps({"id": "n", "status": value, "reference": value}).encode() for value in HOSTILE_VALUES]


def test_hostile_notify_receipts_get_a_clear_answer(world, settings):  # noqa: F811 - the fixture
    settings.NOTIFY_CALLBACK_TOKEN = "fuzz-callback-token"  # pragma: allowlist secret
    url = reverse("notifications:notify_receipt")
    failures = []
    for body in HOSTILE_RECEIPTS:
        response = Client(raise_request_exception=False).post(
            url, body, content_type="application/json", headers={"Authorization": "Bearer fuzz-callback-token"}
        )
        if response.status_code not in (200, 400) or not response.json():
            failures.append(f"{body[:60]!r}: {response.status_code}")
    for value in HOSTILE_VALUES:
        authorization = f"Bearer {value}".replace("\x00", "")
        response = Client(raise_request_exception=False).post(
            url, b"{}", content_type="application/json", headers={"Authorization": authorization}
        )
        if response.status_code != 401:
            failures.append(f"token {value[:60]!r}: {response.status_code}")
    assert not failures, "\n".join(failures)
