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
    Expect("accounts:session_status", statuses=everyone(200)),
    Expect("accounts:account", statuses=everyone(200)),
    Expect("accounts:password_change", statuses=everyone(200)),
    Expect("accounts:backup_codes_new", statuses=everyone(200)),
    Expect("accounts:password_forgotten", anonymous=200, default=200),
    # Without a link opened in this session, and with a made-up token: the link does not work.
    Expect("accounts:password_reset", anonymous=410, default=410),
    Expect(
        "accounts:password_reset_link",
        anonymous=410,
        default=410,
        kwargs=lambda w, p, own: {"token": "MQ.made-up-token"},
        other_default=410,
    ),
    Expect("accounts:organisation_select", statuses=everyone(200)),
    Expect("accounts:home", statuses=everyone(200)),
]
