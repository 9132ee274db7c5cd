"""`make lint`'s migration check (django-migration-linter, a development package): every
migration must be backward-compatible with the release before it, which keeps running during a
rolling deploy (docs/deployment.md "Rolling deploys": expand, deploy, contract).

It reads each migration's SQL (sqlmigrate) against the test database's settings. The baseline
below lists the migrations, already applied everywhere, that it flags, each with the reason it
stands; any other flagged migration fails the lint.
"""

import copy
import os
from typing import Any

from cpis.settings.test import *  # noqa: F403
from cpis.settings.test import INSTALLED_APPS
from cpis.settings.test import LOGGING as BASE_LOGGING

INSTALLED_APPS = [*INSTALLED_APPS, "django_migration_linter"]
# sqlmigrate only writes SQL; the linter merely connects (to ask which migrations are applied).
# The server's maintenance database, so the lint needs no database of the project's to exist.
DATABASES["default"]["NAME"] = os.environ.get("MIGRATION_LINT_DATABASE", "postgres")  # noqa: F405

# Migration name -> why it stands. Renaming or editing an applied migration changes no database.
MIGRATION_LINT_BASELINE = {
    # Three NOT NULL text columns with Django's default dropped after the ALTER: the release
    # before inserted sessions without them. Applied before the rolling rule; a new NOT NULL
    # column now carries db_default (or is nullable) so the previous release's INSERTs succeed.
    "0004_session_provider_identity": "applied before the baseline (NOT NULL without db_default)",
    # A partial unique index on a new, nullable column: the release before wrote NULL, which the
    # condition leaves out, so its INSERTs never conflict. Compatible; the linter cannot see that.
    "0002_visit_check_token": "compatible: the unique index covers only non-null tokens",
    # varchar(100) -> varchar(200): widening; the release before writes values that still fit.
    "0014_trace_id_200_characters": "compatible: the column only grows",
    # NOT NULL previous_secret (text, default dropped): the release before created webhook
    # endpoints without it. Applied before the rolling rule, as 0004_session_provider_identity.
    "0004_webhook_secret_rotation_and_response_status": "applied before the baseline (NOT NULL without db_default)",
    # NOT NULL test_delivery_id, as above.
    "0008_webhook_test_delivery": "applied before the baseline (NOT NULL without db_default)",
}

MIGRATION_LINTER_OPTIONS = {
    # The project's own apps: third parties' migrations are theirs to keep compatible.
    "include_apps": [
        "core",
        "audit",
        "accounts",
        "plans",
        "notifications",
        "identity",
        "attendances",
        "administration",
        "fhir",
        "reports",
        "operations",
        "guidance",
        "single_sign_on",
    ],  # fmt: skip
    "ignore_name": list(MIGRATION_LINT_BASELINE),
    "no_cache": True,
}

# Its progress ("Calling sqlmigrate command …") at INFO would bury the verdicts.
_logging: dict[str, Any] = copy.deepcopy(BASE_LOGGING)
_logging.setdefault("loggers", {})["django_migration_linter"] = {"level": "WARNING"}
LOGGING = _logging
