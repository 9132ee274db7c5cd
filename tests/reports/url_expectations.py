from tests.url_permissions import Expect

# Admins see their own organisation's report (national admins every organisation's); figures
# only, so no trained-user gate (tests/reports/test_reports.py).
_ADMINS = {"la_admin": 200, "setting_admin": 200, "national_admin": 200}

EXPECTATIONS = [
    Expect("reports:report", statuses=_ADMINS),
    Expect("reports:report_csv", statuses=_ADMINS),
]
