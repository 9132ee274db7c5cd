"""Who may see the operators' pages and /metrics (see tests/url_permissions.py)."""

from tests.url_permissions import Expect

EXPECTATIONS = [
    # Nobody without the scraper's token or an allowed address (none configured here).
    Expect("metrics", anonymous=403, default=403),
    Expect("operations:service_health", statuses={"national_admin": 200}),
    # An LA's admins; a care setting's admin has no deliveries to see.
    Expect("operations:la_deliveries", statuses={"la_admin": 200}),
    # A national admin sets any LA's MESH mailbox ("other": another LA); nobody else, not even
    # the LA's own admin (the mailbox decides whose plans a file changes).
    Expect(
        "operations:mesh_mailbox_edit",
        statuses={"national_admin": 200},
        kwargs=lambda world, persona, own: {"organisation_id": (world.la if own else world.other_la).pk},
        other_statuses={"national_admin": 200},
        other_default=403,
    ),
]
