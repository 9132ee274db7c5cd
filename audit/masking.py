"""What an administrator without child-data clearance may see of an audit event.

SPEC 1: admin roles alone never show child identifiers. Org admins (and national admins who have
not passed the trained-user gate) see NHS numbers masked to their last four digits, and no plan,
notification or visit ids: those say which children are on a plan.
"""

import re

from audit.models import AuditEvent

# Detail keys naming objects that exist only for a child on a plan.
_CHILD_OBJECT_KEY = re.compile(r"(plan|notification|visit|delivery)", re.IGNORECASE)


def nhs_number_masked(nhs_number: str) -> str:
    if not nhs_number:
        return ""
    return "*" * max(len(nhs_number) - 4, 0) + nhs_number[-4:]


def detail_masked(detail: dict) -> dict:
    """The detail without child-object ids; anything else (user ids, counts, codes) stays."""
    if not isinstance(detail, dict):
        return {}
    return {k: v for k, v in detail.items() if not _CHILD_OBJECT_KEY.search(str(k))}


def event_for_viewer(event: AuditEvent, *, cleared: bool) -> AuditEvent:
    """Masks the event in memory for a viewer who is not cleared; it is never saved."""
    if not cleared:
        event.nhs_number = nhs_number_masked(event.nhs_number)
        event.detail = detail_masked(event.detail)
    return event
