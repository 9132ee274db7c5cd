"""Rolls up the reports' past days (what the hourly beat task does), e.g. a backfill after install."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from reports import rollup


class Command(BaseCommand):
    help = (
        "Compute each past London day's report figures that are not rolled up yet, from --from (default: the "
        "first day with a check or a notification) to --to (default and at most: yesterday). Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", type=date.fromisoformat, help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="last", type=date.fromisoformat, help="last day, YYYY-MM-DD")

    def handle(self, *args, first=None, last=None, **options):
        if last is not None and last >= timezone.localdate():
            raise CommandError("--to must be a day before today: today's figures are still being written.")
        if first is not None and last is not None and first > last:
            raise CommandError("--from must be on or before --to.")
        days = rollup.days_roll_up(first, last)
        if days:
            self.stdout.write(f"Rolled up {len(days)} days, {days[0]:%Y-%m-%d} to {days[-1]:%Y-%m-%d}.")
        else:
            self.stdout.write("Every day is rolled up already.")
