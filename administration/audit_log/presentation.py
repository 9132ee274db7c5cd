"""How the audit viewer says whom or what each event was about, in words.

Events store identifiers only (ids in `detail`, the NHS number in its own column). The viewer
looks up the people, invitations and uploads those ids name, one query per kind for the page,
so "Role granted" reads "Role granted – to Priya Shah" instead of an id to chase.
"""

from collections import defaultdict

from django.db.models import TextChoices

from accounts.models import Invitation, Organisation, Role, User
from audit.models import AuditAction
from plans.models import PlanUpload

# The action list's groups, by the action's prefix (the first group that claims it); an action
# no group claims would go in "Other", and a test keeps that group empty: a new action gets a
# group, so no one has to look through a list of ~100 for it.
_GROUPS = [
    (
        "Sign-in and sessions",
        (
            "login",
            "logout",
            "session",
            "otp",
            "organisation_switched",
            "password",
            "reauthenticated",
            "backup_codes",
            "account_locked",
        ),
    ),  # fmt: skip
    ("Single sign-on and passkeys", ("sso_", "passkey")),
    ("Checks and children", ("child_", "check_rate_limited")),
    ("Notifications and webhooks", ("notification", "notify_", "webhook_")),
    ("Plans and uploads", ("plan", "la_contacts", "nhs_number_inactive")),
    ("MESH", ("mesh_",)),
    ("Users, roles and training", ("invitation", "role_", "user_", "training")),
    ("Organisations", ("organisation",)),
    ("API", ("api_", "fhir_")),
    ("Privacy officers' alerts", ("privacy_",)),
    ("Supplier systems and conformance runs", ("supplier_", "conformance_")),
    ("Refusals", ("access_refused", "gate_refused")),
    ("Audit log, access reviews and the Django admin", ("audit", "access_review", "django_admin")),
]


def action_choices_grouped(actions: type[TextChoices] = AuditAction) -> list[tuple[str, list[tuple[str, str]]]]:
    """The actions as (group, [(value, label)…]) in a fixed group order, labels alphabetical."""
    grouped: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for value, label in actions.choices:
        group = next((name for name, prefixes in _GROUPS if value.startswith(prefixes)), "Other")
        grouped[group].append((value, label))
    order = [name for name, _ in _GROUPS] + ["Other"]
    return [(name, sorted(grouped[name], key=lambda c: c[1])) for name in order if grouped.get(name)]


def _ids(events, key: str) -> set[int]:
    found = set()
    for event in events:
        value = (event.detail or {}).get(key) if isinstance(event.detail, dict) else None
        if isinstance(value, int):
            found.add(value)
    return found


def affected_by_event(events) -> dict[int, str]:
    """event id → who or what it affected ("Priya Shah", "invitation to a@b.nhs.uk"), if known."""
    events = list(events)
    user_ids = _ids(events, "subject_user_id") | _ids(events, "assigned_to")
    users = dict(User.objects.filter(pk__in=user_ids).values_list("pk", "full_name")) if user_ids else {}
    invitation_ids = _ids(events, "invitation_id")
    invitations = (
        dict(Invitation.objects.filter(pk__in=invitation_ids).values_list("pk", "email")) if invitation_ids else {}
    )
    upload_ids = _ids(events, "upload_id")
    uploads = dict(PlanUpload.objects.filter(pk__in=upload_ids).values_list("pk", "filename")) if upload_ids else {}
    organisation_ids = _ids(events, "organisation_id")
    organisations = (
        dict(Organisation.objects.filter(pk__in=organisation_ids).values_list("pk", "name")) if organisation_ids else {}
    )

    result = {}
    for event in events:
        detail = event.detail if isinstance(event.detail, dict) else {}
        parts = []
        if detail.get("subject_user_id") in users:
            parts.append(users[detail["subject_user_id"]])
        if detail.get("assigned_to") in users:
            parts.append(f"assigned to {users[detail['assigned_to']]}")
        if detail.get("role") in Role.values:
            parts.append(f"role: {Role(detail['role']).label.lower()}")
        if detail.get("invitation_id") in invitations and not detail.get("subject_user_id"):
            parts.append(f"invitation to {invitations[detail['invitation_id']]}")
        if detail.get("upload_id") in uploads:
            parts.append(f"file {uploads[detail['upload_id']]}")
        if detail.get("organisation_id") in organisations:
            parts.append(organisations[detail["organisation_id"]])
        if detail.get("notification_id"):
            parts.append(f"notification {detail['notification_id']}")
        if parts:
            result[event.pk] = ", ".join(parts)
    return result
