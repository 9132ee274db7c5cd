"""The check journey: the one service every interface calls (the web form and the FHIR API).

Nothing here knows about HTTP or forms: `request` is optional and used only for the audit's
IP address. Callers decide who may call (views with `role_required`, the API with its token);
the service still refuses what no caller may ever do (a silent read by a clinician, a check
from a local authority), because a mistake there would go unnoticed.

One module per step; callers import from the package:

- `check`: `child_check`, the check itself, as the list of its steps;
- `rate_limit`: the hourly limit of checks per user;
- `history`: the child's visits, read by every check and trimmed to 25 by the worker;
- `local_authority`: the responsible local authority's view of a child;
- `checks_today`: the checker's own day; `plans`: the order plans are shown in.
"""

from attendances.services.check import (
    CHECKING_ROLES,
    SILENT_READ_ROLES,
    CheckFormExpired,
    CheckResult,
    LocalAuthorityPlans,
    checking_role,
    child_check,
)
from attendances.services.checks_today import CheckMade, checks_today, checks_today_events
from attendances.services.history import child_history, visit_history_trim
from attendances.services.local_authority import ChildRecord, child_view_by_local_authority
from attendances.services.rate_limit import CheckRateLimited

__all__ = [
    "CHECKING_ROLES",
    "SILENT_READ_ROLES",
    "CheckFormExpired",
    "CheckMade",
    "CheckRateLimited",
    "CheckResult",
    "ChildRecord",
    "LocalAuthorityPlans",
    "checking_role",
    "checks_today",
    "checks_today_events",
    "child_check",
    "child_history",
    "child_view_by_local_authority",
    "visit_history_trim",
]
