"""The Django admin as break-glass: superusers with a second factor only, every use audited.

See docs/adr/ADR-007-django-admin-break-glass.md. The service's own pages do the day-to-day
administration; the Django admin is for operators repairing what those pages cannot, so each
request to it (sign-in, page read, change) leaves a row in the same append-only audit log.
"""

import json
from functools import update_wrapper
from typing import Any, cast

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.contrib.contenttypes.models import ContentType
from django.db.models.signals import post_save
from django.dispatch import receiver
from django_otp.admin import OTPAdminSite

from accounts.requests import CpisRequest
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record

_LOG_ACTIONS = {ADDITION: "added", CHANGE: "changed", DELETION: "deleted"}


def _is_admin_request(request: CpisRequest) -> bool:
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.namespace == "admin"
    return request is not None and request.path.startswith("/django-admin/")


class BreakGlassAdminSite(OTPAdminSite):
    site_header = "CP-IS break-glass administration"
    site_title = "CP-IS break-glass"

    def has_permission(self, request) -> bool:
        # Superusers only (not every is_staff), and only once they used a second factor.
        user = request.user
        return bool(user.is_active and user.is_superuser and super().has_permission(request))

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        def audited(request, *args, **kwargs):
            response = inner(request, *args, **kwargs)
            if request.user.is_authenticated:
                match = request.resolver_match
                # A signed-in user without break-glass rights is sent to the login page: refused.
                allowed = self.has_permission(request) and response.status_code < 400
                audit_record(
                    action=AuditAction.DJANGO_ADMIN_USED,
                    request=request,
                    outcome=AuditOutcome.SUCCESS if allowed else AuditOutcome.DENIED,
                    detail={
                        "url_name": match.url_name if match else "",
                        "method": request.method,
                        "status": response.status_code,
                        # The url name says the model and the page; the id says which object. Never
                        # the query string: a changelist's search text may be a person's name.
                        **{k: str(v)[:64] for k, v in kwargs.items() if k == "object_id"},
                        # Bulk actions (delete selected) write their LogEntry rows without save().
                        **(
                            {"selected": [s[:64] for s in request.POST.getlist("_selected_action")[:100]]}
                            if request.method == "POST" and "_selected_action" in request.POST
                            else {}
                        ),
                    },
                )
            return response

        return update_wrapper(audited, view)


def _change_messages(entry: LogEntry) -> list[dict]:
    try:
        messages = json.loads(entry.change_message or "[]")
    except ValueError:
        return []
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


@receiver(post_save, sender=LogEntry, dispatch_uid="audit_django_admin_change")
def _audit_admin_change(sender, instance: LogEntry, created: bool, **kwargs) -> None:
    """Every add, change and delete the admin makes writes a LogEntry; each becomes an audit row.

    The LogEntry's object_repr and change message can hold names, so only ids and field names
    are copied.
    """
    if not created:
        return
    # The stubs declare LogEntry.content_type as a bare ForeignKey, which reads as no model at all.
    content_type = cast(ContentType | None, instance.content_type)
    detail: dict[str, Any] = {
        "model": f"{content_type.app_label}.{content_type.model}" if content_type else "",
        "object_id": str(instance.object_id or "")[:64],
        "change": _LOG_ACTIONS.get(instance.action_flag, str(instance.action_flag)),
    }
    fields = sorted({f for message in _change_messages(instance) for f in message.get("changed", {}).get("fields", [])})
    if fields:
        detail["fields"] = fields
    audit_record(action=AuditAction.DJANGO_ADMIN_CHANGE, user=instance.user, detail=detail)


@receiver(user_logged_in, dispatch_uid="audit_django_admin_login")
def _audit_admin_login(sender, request, user, **kwargs) -> None:
    # The service's own sign-in audits itself once both factors are done (accounts.views).
    if request is not None and _is_admin_request(request):
        audit_record(action=AuditAction.DJANGO_ADMIN_LOGIN, request=request, user=user)


@receiver(user_login_failed, dispatch_uid="audit_django_admin_login_failed")
def _audit_admin_login_failed(sender, credentials, request=None, **kwargs) -> None:
    if request is not None and _is_admin_request(request):
        audit_record(action=AuditAction.DJANGO_ADMIN_LOGIN, request=request, outcome=AuditOutcome.FAILURE)
