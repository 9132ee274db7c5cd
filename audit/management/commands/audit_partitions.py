"""Makes the audit table's next monthly partitions, or drops those past retention (owner only)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from audit import partitions


class Command(BaseCommand):
    help = (
        "Make this month's audit partition and the next AUDIT_PARTITIONS_AHEAD months' (what the "
        "daily beat task does). With --drop-expired, as the owner role, also detach and drop the "
        "months older than AUDIT_RETENTION_MONTHS."
    )

    def add_arguments(self, parser):
        parser.add_argument("--months-ahead", type=int, default=None, help="months to make ahead of this one")
        parser.add_argument(
            "--drop-expired",
            action="store_true",
            help="detach and drop the partitions past retention (run as the owner role)",
        )

    def handle(self, *args, months_ahead=None, drop_expired=False, **options):
        if not partitions.partitioned():
            self.stdout.write("This database has no partitions (SQLite): nothing to do.")
            return
        if months_ahead is not None and not 0 <= months_ahead <= 24:
            raise CommandError("--months-ahead must be between 0 and 24")
        made = partitions.partitions_ensure(months_ahead=months_ahead)
        self.stdout.write(f"Created: {', '.join(made)}" if made else "Every partition needed already exists.")
        if drop_expired:
            try:
                dropped = partitions.partitions_drop_expired()
            except DatabaseError as error:
                raise CommandError(
                    f"Could not drop expired audit partitions ({error.__class__.__name__}): "
                    "run this as the owner role that runs migrations."
                ) from error
            self.stdout.write(f"Dropped: {', '.join(dropped)}" if dropped else "No partition is past retention.")
