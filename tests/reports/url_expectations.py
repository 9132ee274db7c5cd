from tests.url_permissions import Expect

# Admins see their own organisation's report (national admins every organisation's); figures
# only, so no trained-user gate (tests/reports/test_reports.py).
_ADMINS = {"la_admin": 200, "setting_admin": 200, "national_admin": 200}

EXPECTATIONS = [
    # Published: counts only (tests/reports/test_progress.py proves it holds no personal data).
    Expect("reports:progress_public", default=200, anonymous=200),
    Expect("reports:progress_organisations", statuses={"national_admin": 200}),
    Expect("reports:go_live", statuses={"la_admin": 200, "setting_admin": 200}),
    Expect("reports:report", statuses=_ADMINS),
    Expect("reports:report_csv", statuses=_ADMINS),
]
