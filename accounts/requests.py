"""The request as our middleware leaves it, for the type checker.

Django builds a plain `HttpRequest` (a `WSGIRequest`); `CurrentOrganisationMiddleware`
(accounts/access.py `current_organisation_load`) then sets the attributes below on every
request, and `audit_record` marks a refusal it has recorded. Nothing constructs these classes:
they only name, for mypy, what a view or service may read from the request it is given, so a
misspelt `request.organisaton` fails `make lint` instead of a page.

Three steps, each what the step before it guarantees:
- `CpisRequest`: any request (signed out, or signed in without a current organisation).
- `SignedInRequest`: a page behind `LoginRequiredMiddleware` (every view not marked
  `login_not_required`): `user` is a `User`.
- `OrganisationRequest`: a view behind `role_required`, which refuses a request holding none
  of its roles, and roles are only held at a current organisation: `organisation` is set.
"""

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from accounts.models import Organisation, User


class CpisRequest(HttpRequest):
    user: User | AnonymousUser
    # The organisation the user works for now: None when signed out, or when a user with
    # several has not picked one yet.
    organisation: Organisation | None
    # The role values the user holds at `organisation` (empty when it is None).
    roles: frozenset[str]
    # Every active organisation the user belongs to, by name: the organisation picker's list.
    user_organisations: list[Organisation]
    # Whether the user's CP-IS training is current today; None: not known, ask the database.
    user_trained: bool | None
    # Set by audit_record when it records a refusal, so the refusal middleware does not again.
    refusal_audited: bool


class SignedInRequest(CpisRequest):
    user: User


class OrganisationRequest(SignedInRequest):
    organisation: Organisation
