from tests.url_permissions import Expect, everyone

EXPECTATIONS = [
    Expect("healthz", anonymous=200, default=200),
    Expect("livez", anonymous=200, default=200),
    Expect("readyz", anonymous=200, default=200),
    Expect("accounts:login", anonymous=200, default=302),
    Expect("accounts:login_verify", anonymous=302, default=302),
    Expect("accounts:login_enrol", anonymous=302, default=302),
    Expect("accounts:backup_codes", statuses=everyone(302)),
    Expect("accounts:logout", method="post", statuses=everyone(302)),
    Expect("accounts:session_extend", method="post", statuses=everyone(200)),
    Expect("accounts:organisation_select", statuses=everyone(200)),
    Expect("accounts:home", statuses=everyone(200)),
]
