"""Optional error tracking: sentry-sdk when SENTRY_DSN is set, with nothing personal sent.

Sentry's own defaults would send the URL with its query string (the FHIR API's carries the NHS
number), the request's headers, cookies and body, and exception messages as they are. Here:
no default PII, no local variables, no request bodies, no performance traces; and every event
and breadcrumb passes `scrub` before it leaves, which drops the query string, cookies, body
and all headers but a few harmless ones, and redacts every remaining string (cpis/logs.py).
"""

from typing import TYPE_CHECKING

from cpis.logs import log_context, redact

if TYPE_CHECKING:
    from sentry_sdk.types import Breadcrumb, BreadcrumbHint, Event, Hint

_KEPT_HEADERS = {"user-agent", "x-request-id", "traceid", "content-type", "accept"}


def _redact_all(value):
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_all(v) for v in value]
    return value


def scrub(event: "Event", hint: "Hint | None" = None) -> "Event":
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("query_string", None)
        request.pop("cookies", None)
        request.pop("data", None)
        request.pop("env", None)
        url = request.get("url")
        if isinstance(url, str):
            request["url"] = url.split("?", 1)[0]
        headers = request.get("headers")
        kept = headers.items() if isinstance(headers, dict) else ()
        request["headers"] = {k: v for k, v in kept if k.lower() in _KEPT_HEADERS}
    # Ids only about the user (Sentry's Django integration may add more).
    if isinstance(event.get("user"), dict):
        event["user"] = {k: v for k, v in event["user"].items() if k == "id"}
    # The ids our logs carry, so an event can be matched with its log lines.
    event["tags"] = {**(event.get("tags") or {}), **{k: str(v) for k, v in log_context().items()}}
    return _redact_all(event)


def scrub_breadcrumb(crumb: "Breadcrumb", hint: "BreadcrumbHint | None" = None) -> "Breadcrumb":
    return _redact_all(crumb)


def sentry_init(dsn: str, *, environment: str = "", transport=None) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    options = {}
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(
        dsn=dsn,
        environment=environment or None,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        traces_sample_rate=0,
        before_send=scrub,
        before_breadcrumb=scrub_breadcrumb,
        **options,
    )
