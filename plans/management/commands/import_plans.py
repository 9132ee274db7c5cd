"""manage.py import_plans --organisation ODS FILE [--dry-run]: the unattended plan upload.

Prints the acknowledgement as JSON on stdout. Exits 0 when rows were accepted (CPF02, CPF03),
and with an error when none were (CPF01, CPF04) or PDS could not verify them yet (CPF05: the
file is held and the worker retries it) so a scheduler notices.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organisation, OrganisationKind
from plans.models import FileCode
from plans.uploads import plan_upload_acknowledgement, plan_upload_import


class Command(BaseCommand):
    help = "Imports a CSV file of one local authority's plans and prints the acknowledgement as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--organisation", required=True, help="The local authority's ODS code.")
        parser.add_argument("file", help="The CSV file.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check the file and print what it would do; change nothing."
        )

    def handle(self, *args, organisation: str, file: str, dry_run: bool = False, **options):
        la = Organisation.objects.filter(
            ods_code=organisation.strip().upper(), kind=OrganisationKind.LOCAL_AUTHORITY, is_active=True
        ).first()
        if la is None:
            raise CommandError(f"No active local authority has the ODS code {organisation!r}.")
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"There is no file at {file!r}.")
        with path.open("rb") as handle:
            upload = plan_upload_import(organisation=la, filename=path.name, file=handle, dry_run=dry_run)
        acknowledgement = plan_upload_acknowledgement(upload=upload)
        acknowledgement["dry_run"] = dry_run
        self.stdout.write(json.dumps(acknowledgement, indent=2))
        if upload.file_code in (FileCode.CPF01, FileCode.CPF04, FileCode.CPF05):
            raise CommandError(f"{upload.file_code}: {upload.file_message}")
