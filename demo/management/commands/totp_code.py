"""Prints the current code for the demo authenticator secret, so a demo needs no phone."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import totp

from demo.management.commands.seed_demo import demo_totp_key_hex


class Command(BaseCommand):
    help = "Prints the current two-factor code of the demo users (DEBUG only)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("totp_code is for the demo only; it runs only with DEBUG on.")
        self.stdout.write(f"{totp(bytes.fromhex(demo_totp_key_hex())):06d}")
