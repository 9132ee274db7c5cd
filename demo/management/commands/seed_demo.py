"""A realistic demo: organisations and a user for every role, each with a known password and
authenticator secret (documented in the README). Running it again changes nothing."""

import base64
import importlib.util
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Organisation, OrganisationKind, Region, Role, SettingType, TrainingRecord, User
from accounts.services import membership_grant
from demo.attendances import seed_attendances_demo
from demo.mesh import LA_MAILBOXES
from demo.notifications import seed_notifications_demo
from demo.plans import seed_plans_demo
from demo.privacy import seed_privacy_demo
from demo.suppliers import seed_suppliers_demo
from mesh.services import mesh_mailbox_set

DEMO_PASSWORD = "demo-password-2026"
# Base32, as an authenticator app takes it; every demo user shares it so the README can list one.
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

ORGANISATIONS = [
    dict(ods_code="X26", name="NHS England CP-IS", kind=OrganisationKind.NATIONAL, region=Region.LONDON),
    dict(
        ods_code="LA001",
        name="Northshire County Council",
        kind=OrganisationKind.LOCAL_AUTHORITY,
        region=Region.NORTH_EAST_YORKSHIRE,
        office_hours_phone="0113 496 0001",
        emergency_duty_phone="0113 496 0999",
        team_mailbox="cpis-team@northshire.example",
    ),
    dict(
        ods_code="LA002",
        name="Southborough City Council",
        kind=OrganisationKind.LOCAL_AUTHORITY,
        region=Region.SOUTH_WEST,
        office_hours_phone="0117 496 0002",
        emergency_duty_phone="0117 496 0998",
        team_mailbox="childrens-services@southborough.example",
    ),
    dict(
        ods_code="LA003",
        name="Eastvale Borough Council",
        kind=OrganisationKind.LOCAL_AUTHORITY,
        region=Region.EAST_OF_ENGLAND,
        office_hours_phone="",
        emergency_duty_phone="01632 960 997",
        team_mailbox="mash@eastvale.example",
    ),
    dict(
        ods_code="RDE01",
        name="Northshire General Hospital Emergency Department",
        kind=OrganisationKind.CARE_SETTING,
        region=Region.NORTH_EAST_YORKSHIRE,
        setting_type=SettingType.ED,
        phone="0113 496 0100",
    ),
    dict(
        ods_code="RDE02",
        name="Riverside Minor Injury Unit",
        kind=OrganisationKind.CARE_SETTING,
        region=Region.NORTH_EAST_YORKSHIRE,
        setting_type=SettingType.MIU,
        phone="0113 496 0200",
    ),
    dict(
        ods_code="RXU03",
        name="Southborough Urgent Treatment Centre",
        kind=OrganisationKind.CARE_SETTING,
        region=Region.SOUTH_WEST,
        setting_type=SettingType.UTC,
        phone="0117 496 0300",
    ),
]

# (email, name, [(ODS code, role)], trained)
USERS = [
    ("clinician@demo.example", "Priya Shah", [("RDE01", Role.CLINICIAN)], True),
    ("safeguarding.lead@demo.example", "Tom Okafor", [("RDE01", Role.SAFEGUARDING_LEAD)], True),
    ("locum.clinician@demo.example", "Ana Costa", [("RDE02", Role.CLINICIAN), ("RXU03", Role.CLINICIAN)], True),
    ("untrained.clinician@demo.example", "Sam Reid", [("RXU03", Role.CLINICIAN)], False),
    ("setting.admin@demo.example", "Grace Lee", [("RDE01", Role.ORG_ADMIN)], False),
    ("social.worker@demo.example", "Maya Patel", [("LA001", Role.SOCIAL_WORKER)], True),
    ("plan.manager@demo.example", "David Brown", [("LA001", Role.PLAN_MANAGER)], True),
    ("la.admin@demo.example", "Helen Walsh", [("LA001", Role.ORG_ADMIN)], False),
    (
        "social.worker.south@demo.example",
        "Kwame Mensah",
        [("LA002", Role.SOCIAL_WORKER), ("LA002", Role.PLAN_MANAGER)],
        True,
    ),
    ("national.admin@demo.example", "Ruth Evans", [("X26", Role.NATIONAL_ADMIN)], False),
    ("privacy.officer@demo.example", "Olu Adeyemi", [("RDE01", Role.PRIVACY_OFFICER)], True),
    ("la.privacy.officer@demo.example", "Fiona Grant", [("LA001", Role.PRIVACY_OFFICER)], True),
]


def demo_totp_key_hex() -> str:
    return base64.b32decode(DEMO_TOTP_SECRET).hex()


class Command(BaseCommand):
    help = "Loads demo organisations and users (refuses to run unless DEBUG is on or --force is given)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even though DEBUG is off.")

    @transaction.atomic
    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates users with published passwords; it runs only with DEBUG on, or with --force."
            )
        organisations = {}
        for spec in ORGANISATIONS:
            org, _ = Organisation.objects.update_or_create(ods_code=spec["ods_code"], defaults=spec)
            organisations[org.ods_code] = org
        today = timezone.localdate()
        for email, name, grants, trained in USERS:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(email, DEMO_PASSWORD, full_name=name)
            for ods_code, role in grants:
                membership_grant(user=user, organisation=organisations[ods_code], role=role, by=None)
            if trained and not user.training_records.exists():
                TrainingRecord.objects.create(
                    user=user, course="CP-IS e-learning (demo)", completed_on=today - timedelta(days=30)
                )
            TOTPDevice.objects.get_or_create(
                user=user, name="Demo authenticator", defaults={"key": demo_totp_key_hex(), "confirmed": True}
            )
        # Their MESH mailboxes, on the local mesh-sandbox `make run` starts (docs/la-interface.md).
        for ods_code, mailbox_id in LA_MAILBOXES.items():
            mesh_mailbox_set(local_authority=organisations[ods_code], mailbox_id=mailbox_id)
        # Plans first; then notifications in each inbox state (new, assigned, acknowledged,
        # overdue); then more visits recorded through the real check, which notifies the LAs.
        plans = seed_plans_demo(organisations)
        notifications = seed_notifications_demo()
        visits = seed_attendances_demo()
        # Last: the scan reads the checks above too.
        alerts = seed_privacy_demo()
        # After the privacy scan: a conformance run's checks are synthetic, nobody's pattern.
        systems = seed_suppliers_demo(organisations, User.objects.get(email="national.admin@demo.example"))
        providers = 0
        # The image leaves the local OpenID Connect provider out (.dockerignore), and with it the
        # providers that would point at it: a demo deployed from the image has no single sign-on.
        if importlib.util.find_spec("demo.single_sign_on") is not None:
            from demo.single_sign_on import seed_single_sign_on_demo

            providers = seed_single_sign_on_demo()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo loaded: {len(ORGANISATIONS)} organisations, {len(USERS)} users, {plans} new plans, "
                f"{notifications} inbox notifications, {visits} more visits, {alerts} access-pattern alerts, {systems} supplier systems, "
                f"{providers} single sign-on providers. "
                f"Password {DEMO_PASSWORD!r}, authenticator secret {DEMO_TOTP_SECRET}."
            )
        )
