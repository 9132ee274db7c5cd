"""manage.py backup_database [--output FILE]: a pg_dump as the backup role, DATABASE_BACKUP_URL
(else DATABASE_URL); operations/backup.py."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from operations.backup import BackupFailed, database_dump


class Command(BaseCommand):
    help = "Writes a pg_dump (custom format) of the database. It holds personal data: keep it encrypted."

    def add_arguments(self, parser):
        parser.add_argument("--output", help="The file to write (default var/backups/cpis-<time>.dump).")
        parser.add_argument("--database-url", help="Another database or role than DATABASE_BACKUP_URL's.")

    def handle(self, *args, output=None, database_url=None, **options):
        url = database_url or settings.DATABASE_BACKUP_URL or _url_from_settings()
        path = Path(output or settings.BASE_DIR / "var" / "backups" / f"cpis-{timezone.now():%Y%m%dT%H%M%SZ}.dump")
        try:
            database_dump(url=url, path=path)
        except BackupFailed as exc:
            raise CommandError(f"Backup failed: {exc}") from exc
        except Exception as exc:
            raise CommandError(f"Backup failed: {type(exc).__name__}: {exc}") from exc
        self.stdout.write(str(path))


def _url_from_settings() -> str:
    db = settings.DATABASES["default"]
    auth = db.get("USER") or ""
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    return f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
