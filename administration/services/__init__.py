"""Writes of access administration: invitations, roles, two-factor resets, organisations.

Each write is audited. Every rule that protects an organisation (no national_admin from these
pages, never remove the last org admin, never act on a user who also works elsewhere) lives
here, not in the views, so the Django admin and the beat tasks cannot bypass it.

One module per area; callers import from the package:

- `roles`: which roles may be granted where (the rule every grant below keeps);
- `invitations`: invite, resend, cancel and accept a link;
- `users`: one organisation's users: roles, deactivation, two-factor resets;
- `organisations`: national administration of organisations and their administrators;
- `access_reviews`: an organisation's record that its access was reviewed.
"""

from administration.services.access_reviews import access_review_record
from administration.services.invitations import (
    InvitationUnusable,
    invitation_accept,
    invitation_cancel,
    invitation_create,
    invitation_refused_record,
    invitation_resend,
    invitation_usable,
)
from administration.services.organisations import (
    ORGANISATION_FIELDS,
    AppointResult,
    org_admin_appoint,
    organisation_create,
    organisation_update,
)
from administration.services.roles import GRANTABLE_ROLES, grantable_roles
from administration.services.users import (
    role_grant,
    role_remove,
    two_factor_reset,
    user_deactivate_at,
    user_reactivate_at,
    user_works_elsewhere,
)

__all__ = [
    "GRANTABLE_ROLES",
    "ORGANISATION_FIELDS",
    "AppointResult",
    "InvitationUnusable",
    "access_review_record",
    "grantable_roles",
    "invitation_accept",
    "invitation_cancel",
    "invitation_create",
    "invitation_refused_record",
    "invitation_resend",
    "invitation_usable",
    "org_admin_appoint",
    "organisation_create",
    "organisation_update",
    "role_grant",
    "role_remove",
    "two_factor_reset",
    "user_deactivate_at",
    "user_reactivate_at",
    "user_works_elsewhere",
]
