from django.conf import settings

from audit.models import AuditEvent, AuditOutcome


def client_ip(request) -> str | None:
    """The caller's address: REMOTE_ADDR, or the entry our own trusted proxies appended.

    Only the last TRUSTED_PROXY_COUNT X-Forwarded-For entries were written by proxies we run;
    anything before them is whatever the client chose to send.
    """
    if request is None:
        return None
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR") or None


def refused_url_detail(request) -> dict:
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
    request=None,
    user=None,
    organisation=None,
    roles=None,
    nhs_number: str = "",
    outcome: str = AuditOutcome.SUCCESS,
    detail: dict | None = None,
    trace_id: str = "",
) -> AuditEvent:
    """Writes one audit event; who and where default to the request's user and organisation.

    A refusal (outcome `denied`) marks the request, so the refusal middleware does not record
    it a second time.
    """
    if outcome == AuditOutcome.DENIED and request is not None:
        request.refusal_audited = True
    if request is not None:
        if user is None and getattr(request, "user", None) is not None and request.user.is_authenticated:
            user = request.user
        if organisation is None:
            organisation = getattr(request, "organisation", None)
        if roles is None:
            roles = getattr(request, "roles", None)
    return AuditEvent.objects.create(
        action=action,
        user=user,
        organisation=organisation,
        roles=",".join(sorted(roles or ())),
        nhs_number=nhs_number,
        ip_address=client_ip(request),
        outcome=outcome,
        detail=detail or {},
        trace_id=trace_id,
    )
