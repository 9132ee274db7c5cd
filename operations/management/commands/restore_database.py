"""manage.py restore_database FILE --database-url URL: restores a backup into an empty database."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from operations.backup import database_restore


class Command(BaseCommand):
    help = "Restores a backup_database dump into a new, empty PostgreSQL database."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--database-url", required=True, help="The empty database to restore into.")

    def handle(self, *args, file, database_url, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"There is no file at {file!r}.")
        try:
            database_restore(url=database_url, path=path)
        except Exception as exc:
            raise CommandError(f"Restore failed: {type(exc).__name__}: {exc}") from exc
        self.stdout.write(f"Restored {path} into the target database. Run `manage.py migrate --check` against it.")
