"""Who may see the operators' pages and /metrics (see tests/url_permissions.py)."""

from tests.url_permissions import Expect

EXPECTATIONS = [
    # Nobody without the scraper's token or an allowed address (none configured here).
    Expect("metrics", anonymous=403, default=403),
    Expect("operations:service_health", statuses={"national_admin": 200}),
    # An LA's admins; a care setting's admin has no deliveries to see.
    Expect("operations:la_deliveries", statuses={"la_admin": 200}),
]
