from tests.url_permissions import Expect

# National admins see every event; org admins their own organisation's (tests/audit/test_viewer.py).
_ADMINS = {"la_admin": 200, "setting_admin": 200, "national_admin": 200}

EXPECTATIONS = [
    Expect("audit:events", statuses=_ADMINS),
    Expect("audit:events_csv", statuses=_ADMINS),
]
