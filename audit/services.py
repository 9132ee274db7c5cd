import functools
import ipaddress
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from audit.models import AuditEvent, AuditOutcome


@functools.cache
def _trusted_networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _parsed(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address.strip())
    except ValueError:
        return None


def client_ip(request: HttpRequest | None) -> str | None:
    """The caller's address, for the audit log and the sign-in lockout.

    REMOTE_ADDR, unless that is one of our own proxies (TRUSTED_PROXIES, addresses or
    networks): then X-Forwarded-For is read from the right, skipping our proxies, and the first
    address that is not one of them is the client. Anything further left was written by the
    client, and a direct connection's X-Forwarded-For is ignored altogether — so nobody can
    choose the address they are locked out or audited at.
    """
    if request is None:
        return None
    remote = request.META.get("REMOTE_ADDR") or None
    trusted = _trusted_networks(tuple(settings.TRUSTED_PROXIES))
    remote_address = _parsed(remote or "")
    if remote_address is None or not any(remote_address in network for network in trusted):
        return remote
    client = remote
    for entry in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _parsed(entry)
        if address is None:
            # Garbage from our side of the chain: the last hop we trust is as far as we know.
            return client
        client = str(address)
        if not any(address in network for network in trusted):
            return client
    return client


def _storable(value: Any) -> Any:
    """The detail as PostgreSQL's jsonb stores it: it refuses a NUL character anywhere, and a
    refused value echoed into the detail (a role name typed by hand) may hold one."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value


def refused_url_detail(request: HttpRequest) -> dict[str, Any]:
    """The URL name and object ids (`*_id` arguments) of the request; never other arguments,
    which may be secrets such as an invitation token."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return {}
    ids = {k: v for k, v in match.kwargs.items() if k.endswith("_id") and isinstance(v, int)}
    return {"url_name": match.view_name, **ids}


def audit_record(
    *,
    action: str,
    request: HttpRequest | None = None,
    user: Any = None,
    organisation: Any = None,
    roles: Iterable[str] | None = None,
    nhs_number: str = "",
    outcome: str = AuditOutcome.SUCCESS,
    detail: dict[str, Any] | None = None,
    trace_id: str = "",
) -> AuditEvent:
    """Writes one audit event, as `audit_event_build` makes it."""
    event = audit_event_build(
        action=action,
        request=request,
        user=user,
        organisation=organisation,
        roles=roles,
        nhs_number=nhs_number,
        outcome=outcome,
        detail=detail,
        trace_id=trace_id,
    )
    event.save(force_insert=True)
    return event


def audit_event_build(
    *,
    action: str,
    request: HttpRequest | None = None,
    # Typed loosely: the user and organisation models live in accounts, a layer above audit.
    user: Any = None,
    organisation: Any = None,
    roles: Iterable[str] | None = None,
    nhs_number: str = "",
    outcome: str = AuditOutcome.SUCCESS,
    detail: dict[str, Any] | None = None,
    trace_id: str = "",
) -> AuditEvent:
    """One audit event, not yet saved: the one shape of an event for `audit_record` and for a
    caller that inserts it as part of a larger statement (`core.model_inserts`, the check's
    one statement). Who and where default to the request's user and organisation.

    A refusal (outcome `denied`) marks the request, so the refusal middleware does not record
    it a second time.
    """
    if outcome == AuditOutcome.DENIED and request is not None:
        request.refusal_audited = True  # type: ignore[attr-defined]  # read by the refusal middleware
    if request is not None:
        if user is None and getattr(request, "user", None) is not None and request.user.is_authenticated:
            user = request.user
        if organisation is None:
            organisation = getattr(request, "organisation", None)
        if roles is None:
            roles = getattr(request, "roles", None)
    return AuditEvent(
        action=action,
        user=user,
        organisation=organisation,
        roles=",".join(sorted(roles or ())),
        nhs_number=nhs_number,
        ip_address=client_ip(request),
        outcome=outcome,
        detail=_storable(detail or {}),
        trace_id=trace_id,
    )


def audit_records_by_system(*, action: str, events: list[tuple[int, dict[str, Any]]]) -> None:
    """Writes one audit event per (organisation id, detail), made by the service itself (no
    request, user or roles), in one insert: a scan that raises many alerts at once."""
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(action=action, organisation_id=organisation_id, detail=_storable(detail))
            for organisation_id, detail in events
        ],
        batch_size=500,
    )
