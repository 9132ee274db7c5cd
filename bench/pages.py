"""bench.pages: every page of every role, and the check on both interfaces, at national scale,
beside the bare view, in a closed loop and at a fixed offered load (issue 28 item 4).

1. a database of its own (`cpis_bench_pages`, or BENCH_PAGES_DATABASE) holding 152 local
   authorities, 1,200 care settings, a user per membership (30 per LA, 3 per care setting;
   training, 2FA), 150,000 plans, 1,000,000 visits over a year with their `child_checked` audit
   events, 200,000 notifications with their delivery rows and 12 plan uploads per LA, generated
   in SQL (generate_series) and COPY; kept between runs while the counts match; its past days
   rolled up (a year of daily figures per organisation) and its go-live states kept, as beat
   keeps them in a deployed service;
2. gunicorn as bench.check starts it (production settings, sync workers, bench.settings adding
   the bare one-query view);
3. the pages: every GET page of the URL permission matrix (tests/*/url_expectations.py) that
   answers a persona with 200, for each persona it answers (a page that answers everyone alike
   once), signed in as that role (2FA done, trained), with the variants that cost more with the
   data (inbox filters, plan searches, six months of reports); then the check, POST /check/ and
   FHIR GET CareTeam. A page about one thing takes its URL's arguments from URL_KWARGS; a page
   the bench leaves out is named in NOT_BENCHED with its reason; anything else stops the bench;
4. for each: 16 concurrent clients on the bare view, then 16 on the page (the closed loop: the
   ratio of their throughputs), then the page alone at an offered load (bench._open_loop: 20
   requests a second for 30 s, each sent when due whether or not the earlier ones answered, its
   latency counted from when it was due); prints the ratio, p50/p95/p99 at the offered load,
   which goals it met and the load average.

Goals (issue 28): p95 under 100 ms at the offered load for every page and the check; ratio
within 6 (the check 4 on the web, 3 on FHIR). A page that serves under a quarter of the offered
rate in the closed loop is not offered it (its queue would only grow) and misses the goal. The
audit viewer at 20,000,000 events is bench.audit's. Knobs: BENCH_PAGES_DATABASE,
BENCH_PAGES_SECONDS (6: each closed-loop round), BENCH_OFFERED_SECONDS (30),
BENCH_OFFERED_RATE (20), BENCH_PAGES_ONLY (comma-separated page labels, URL names, roles, or
`name@role`; "check: web (POST /check/)" and "check: FHIR (GET CareTeam)" for the check),
BENCH_PAGES_EVERY_ROLE (bench the pages every role sees alike for each role), and bench.check's
BENCH_CLIENTS, BENCH_WORKERS, BENCH_PORT, BENCH_REDIS_URL. Run it with `python -m bench pages`.
"""

import contextlib
import http.client
import os
import random
import statistics
import time
from datetime import timedelta

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.utils import timezone

from bench import check
from bench._database import bench_database, conninfo, database_ensure
from bench._open_loop import offered_load

DATABASE = os.environ.get("BENCH_PAGES_DATABASE", "cpis_bench_pages")
SECONDS = float(os.environ.get("BENCH_PAGES_SECONDS", 6))
# Issue 28: 20 requests a second to each page for 30 s, about ten times England's busiest minute
# for any one page.
OFFERED_RATE = float(os.environ.get("BENCH_OFFERED_RATE", 20))
OFFERED_SECONDS = float(os.environ.get("BENCH_OFFERED_SECONDS", 30))
GOAL_P95_MS = 100
ONLY = {name for name in os.environ.get("BENCH_PAGES_ONLY", "").split(",") if name}
# England's size (issue 28): every LA and about every care setting that would check a child.
LOCAL_AUTHORITIES = 152
CARE_SETTINGS = 1_200
PLANS = 150_000
VISITS = 1_000_000
NOTIFICATIONS = 200_000
UPLOADS_PER_LA = 12
# Users per LA: 20 social workers, 7 plan managers, 3 org admins; the rest at care settings.
LA_USERS = 30
# Users per care setting: an org admin and two clinicians.
SETTING_USERS = 3
NATIONAL_ADMINS = 10
USERS = LOCAL_AUTHORITIES * LA_USERS + CARE_SETTINGS * SETTING_USERS + NATIONAL_ADMINS
SURNAMES = 4_000


def _loadavg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _organisations():
    from accounts.models import Organisation, OrganisationKind, Region, SettingType

    national = Organisation.objects.get_or_create(
        ods_code="BPNAT", defaults={"name": "Bench National", "kind": OrganisationKind.NATIONAL}
    )[0]
    types, regions = list(SettingType.values), list(Region.values)
    existing = set(Organisation.objects.values_list("ods_code", flat=True))
    Organisation.objects.bulk_create(
        [
            Organisation(
                ods_code=f"BPL{i:03d}", name=f"Bench Council {i:03d}", kind=OrganisationKind.LOCAL_AUTHORITY,
                region=regions[i % len(regions)], office_hours_phone="0113 496 0001",
                emergency_duty_phone="0113 496 0999", team_mailbox=f"team{i}@la.bench.example",
            )
            for i in range(LOCAL_AUTHORITIES)
            if f"BPL{i:03d}" not in existing
        ]
        + [
            Organisation(
                ods_code=f"BPC{i:04d}", name=f"Bench Hospital {i:04d}", kind=OrganisationKind.CARE_SETTING,
                setting_type=types[i % len(types)], region=regions[i % len(regions)], phone="0113 496 0100",
            )
            for i in range(CARE_SETTINGS)
            if f"BPC{i:04d}" not in existing
        ]
    )  # fmt: skip
    by_code = Organisation.objects.filter(ods_code__startswith="BP").in_bulk(field_name="ods_code")
    las = [by_code[f"BPL{i:03d}"] for i in range(LOCAL_AUTHORITIES)]
    return national, las, [by_code[f"BPC{i:04d}"] for i in range(CARE_SETTINGS)]


def _la_role(index_in_la: int) -> str:
    from accounts.models import Role

    if index_in_la < 20:
        return Role.SOCIAL_WORKER
    if index_in_la < 27:
        return Role.PLAN_MANAGER
    return Role.ORG_ADMIN


def _users(national, las, care_settings) -> None:
    """A user per membership: 30 per LA, 3 per care setting, training (some expiring soon, some lapsed), and 2FA
    for nine in ten; plus the national admins."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import Membership, Role, TrainingRecord, User

    today = timezone.localdate()
    now = timezone.now()
    users = User.objects.bulk_create(
        User(
            email=f"bench.user{n}@bench.example",
            full_name=f"Bench User {n:04d}",
            password="!",  # unusable: the bench signs in with sessions, never a password
            last_login=now - timedelta(days=n % 90) if n % 11 else None,
        )
        for n in range(USERS)
    )
    memberships, training, devices = [], [], []
    la_users = LOCAL_AUTHORITIES * LA_USERS
    for n, user in enumerate(users):
        if n < la_users:
            organisation, role = las[n % LOCAL_AUTHORITIES], _la_role(n // LOCAL_AUTHORITIES)
        elif n < USERS - NATIONAL_ADMINS:
            k = n - la_users
            organisation = care_settings[k % CARE_SETTINGS]
            role = Role.ORG_ADMIN if k < CARE_SETTINGS else Role.CLINICIAN
        else:
            organisation, role = national, Role.NATIONAL_ADMIN
        memberships.append(Membership(user=user, organisation=organisation, role=role))
        completed = today - timedelta(days=n % 400)
        training.append(
            TrainingRecord(
                user=user, course="Bench", completed_on=completed, expires_on=completed + timedelta(days=365)
            )
        )
        if n % 10:
            devices.append(TOTPDevice(user=user, name="Bench", confirmed=True))
    Membership.objects.bulk_create(memberships)
    TrainingRecord.objects.bulk_create(training)
    TOTPDevice.objects.bulk_create(devices)


_VISITS_SQL = """
INSERT INTO attendances_visit
    (nhs_number, arrived_at, care_setting_id, checked_by_id, checked_by_name, checked_by_role, recorded_at)
SELECT p.nhs_number, v.at, (%(settings)s::bigint[])[1 + g %% %(n_settings)s],
       (%(clinicians)s::bigint[])[1 + g %% %(n_clinicians)s], 'Bench Clinician', 'clinician', v.at
FROM generate_series(0::bigint, %(visits)s - 1) AS g
JOIN plans_plan p ON p.id = %(first_plan)s + (g * 7919) %% %(plans)s
CROSS JOIN LATERAL (SELECT now() - (g %% 365) * interval '1 day' - (g %% 1440) * interval '1 minute' AS at) v
"""

# One `child_checked` event per visit, as the check writes it: nine in ten found a plan.
_CHECK_EVENTS_SQL = """
INSERT INTO audit_auditevent
    (occurred_at, user_id, organisation_id, roles, action, nhs_number, ip_address, outcome, trace_id, detail)
SELECT v.recorded_at, v.checked_by_id, v.care_setting_id, 'clinician', 'child_checked', v.nhs_number,
       '127.0.0.1', 'success', '',
       CASE WHEN v.id %% 10 = 0 THEN '{"plan_ids": []}'::jsonb
            ELSE jsonb_build_object('plan_ids', jsonb_build_array(v.id)) END
FROM attendances_visit v
"""

# A year of notifications: the older ones acknowledged, the last few days' new, those past
# their due time overdue. Each was delivered to the inbox (one SENT inbox delivery), and to
# the team mailbox; a few hundred e-mails failed.
_NOTIFICATIONS_SQL = """
INSERT INTO notifications_notification
    (local_authority_id, care_setting_id, nhs_number, family_name, given_names, date_of_birth, plan_types,
     first_attended_at, last_attended_at, attendance_count, checked_by_name, checked_by_role, created_at,
     delivered_to_inbox_at, due_at, overdue_since, status, acknowledged_at, acknowledgement_note,
     assigned_to_id)
SELECT p.organisation_id, (%(settings)s::bigint[])[1 + (g / 150) %% %(n_settings)s], p.nhs_number, p.family_name,
       p.given_names, p.date_of_birth, p.plan_type, t.at, t.at + (g %% 3) * interval '1 hour', 1 + g %% 3,
       'Bench Clinician', 'clinician', t.at, t.at + interval '1 second', t.at + interval '1 day',
       CASE WHEN t.fresh AND t.at < now() - interval '1 day' THEN t.at + interval '1 day' END,
       CASE WHEN t.fresh THEN 'new' ELSE 'acknowledged' END,
       CASE WHEN t.fresh THEN NULL ELSE t.at + (1 + g %% 47) * interval '1 hour' END,
       CASE WHEN t.fresh THEN '' ELSE 'Seen; no action needed.' END,
       NULL
FROM generate_series(0::bigint, %(notifications)s - 1) AS g
JOIN plans_plan p ON p.id = %(first_plan)s + (g * 104729) %% %(plans)s
CROSS JOIN LATERAL (
    SELECT now() - ((g * 31) %% (365 * 24 * 60)) * interval '1 minute' AS at,
           (g * 31) %% (365 * 24 * 60) < 6 * 24 * 60 OR g %% 97 = 0 AS fresh
) t
"""

_DELIVERIES_SQL = """
INSERT INTO notifications_delivery
    (notification_id, channel, status, attempts, next_attempt_at, claimed_at, sent_at, failed_at, last_error,
     created_at)
SELECT n.id, c.channel,
       CASE WHEN c.channel = 'email' AND n.id %% 500 = 0 THEN 'failed' ELSE 'sent' END,
       1, n.created_at, n.created_at,
       CASE WHEN c.channel = 'email' AND n.id %% 500 = 0 THEN NULL ELSE n.created_at END,
       CASE WHEN c.channel = 'email' AND n.id %% 500 = 0 THEN n.created_at END,
       CASE WHEN c.channel = 'email' AND n.id %% 500 = 0 THEN 'SMTPServerDisconnected: bench' ELSE '' END,
       n.created_at
FROM notifications_notification n CROSS JOIN (VALUES ('inbox'), ('email')) AS c(channel)
"""


def _plans(conn, las, numbers: list[str]) -> None:
    from plans.models import PlanChangeSource

    today = timezone.localdate()
    now = timezone.now()
    columns = (
        "organisation_id, nhs_number, family_name, given_names, date_of_birth, plan_type, start_date, end_date, "
        "expected_due_date, la_reference, withdrawn, created_by_name, created_source, created_at, updated_at"
    )
    with conn.cursor().copy(f"COPY plans_plan ({columns}) FROM STDIN") as copy:
        for i, number in enumerate(numbers):
            plan_type, due, end = "CPP", None, None
            if i % 13 == 0:
                plan_type, due = "UCPP", today + timedelta(days=30 + i % 200)
            elif i % 7 == 0:
                plan_type = "LAC"
            if i % 5 == 0 and plan_type != "UCPP":
                end = today - timedelta(days=i % 300) + timedelta(days=45)
            dob = today - timedelta(days=(25 if plan_type == "UCPP" else 1 + i % 18) * 365 + i % 300)
            start = today - timedelta(days=400 + i % 700)
            # Surnames repeat across the country, as real ones do: a name search finds several.
            family, given = f"Surname{(i * 7) % SURNAMES:04d}", f"Given{i % 900:03d}"
            copy.write_row(
                (las[i % len(las)].pk, number, family, given, dob, plan_type, start, end, due,
                 f"REF{i}", i % 97 == 0, "Bench loader", PlanChangeSource.SYSTEM, now, now)
            )  # fmt: skip


def _uploads(las) -> None:
    from plans.models import PlanUpload, UploadStatus

    now = timezone.now()
    uploads = []
    for i, la in enumerate(las):
        for week in range(UPLOADS_PER_LA):
            at = now - timedelta(days=7 * week + i % 7)
            rows = 1000
            accepted = rows - (i * 7 + week) % 80
            uploads.append(
                PlanUpload(
                    organisation=la, uploaded_at=at, filename=f"plans-{week}.csv", size_bytes=90_000,
                    status=UploadStatus.APPLIED, counts={"rows": rows, "accepted": accepted, "rejected": rows - accepted},
                    confirmed_at=at, applied_at=at,
                )
            )  # fmt: skip
    PlanUpload.objects.bulk_create(uploads)


def _counts_match(conn) -> bool:
    def count(table: str) -> int:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - fixed names

    # The check's journeys add their visits and notifications (some thousands a run, against a
    # year of a million): kept, rather than every run loading the data again.
    return (
        count("plans_plan") == PLANS
        and count("attendances_visit") >= VISITS
        and count("notifications_notification") >= NOTIFICATIONS
        and count("accounts_user") >= USERS
        and count("accounts_organisation") >= LOCAL_AUTHORITIES + CARE_SETTINGS + 1
    )


def _load(db: dict) -> tuple:
    national, las, care_settings = _organisations()
    with psycopg.connect(conninfo(db, DATABASE), autocommit=True) as conn:
        if _counts_match(conn):
            return national, las, care_settings
        print("loading national-scale data ...", flush=True)
        started = time.monotonic()
        conn.execute(
            "TRUNCATE plans_plan, attendances_visit, notifications_notification, audit_auditevent, "
            "accounts_trainingrecord, accounts_membership, otp_totp_totpdevice, plans_planupload, "
            "reports_dayfigures, reports_rolledupday, accounts_user CASCADE"
        )
    _users(national, las, care_settings)
    _uploads(las)
    from accounts.models import Membership, Role

    clinicians = list(Membership.objects.filter(role=Role.CLINICIAN).values_list("user_id", flat=True))
    with psycopg.connect(conninfo(db, DATABASE), autocommit=True) as conn:
        _plans(conn, las, check._valid_nhs_numbers(PLANS))
        first_plan = conn.execute("SELECT min(id) FROM plans_plan").fetchone()[0]
        params = {
            "settings": [s.pk for s in care_settings], "n_settings": len(care_settings),
            "clinicians": clinicians, "n_clinicians": len(clinicians), "first_plan": first_plan, "plans": PLANS,
            "visits": VISITS, "notifications": NOTIFICATIONS,
        }  # fmt: skip
        for label, sql in (
            ("visits", _VISITS_SQL),
            ("check audit events", _CHECK_EVENTS_SQL),
            ("notifications", _NOTIFICATIONS_SQL),
            ("deliveries", _DELIVERIES_SQL),
        ):
            began = time.monotonic()
            conn.execute(sql, params)
            print(f"  {label}: {time.monotonic() - began:.0f} s", flush=True)
        for table in (
            "plans_plan", "attendances_visit", "audit_auditevent", "notifications_notification",
            "notifications_delivery", "accounts_user", "accounts_membership", "accounts_trainingrecord",
        ):  # fmt: skip
            conn.execute(f"VACUUM ANALYZE {table}")
        print(f"data ready in {time.monotonic() - started:.0f} s", flush=True)
    return national, las, care_settings


def _session(user, organisation, extra: dict | None = None) -> str:
    """A signed-in session of `user` at `organisation` (password and 2FA done), as login makes."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.access import SESSION_ORGANISATION_KEY

    device, _ = TOTPDevice.objects.get_or_create(user=user, name="Bench", defaults={"confirmed": True})
    client = Client()
    client.force_login(user, backend="accounts.backends.SessionUserBackend")
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session["login_time"] = session["last_activity"] = int(time.time())
    session[SESSION_ORGANISATION_KEY] = organisation.pk
    session.update(extra or {})
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def _member(organisation, role):
    """The first user with `role` at `organisation` (one made if the data has none), trained."""
    from accounts.models import Membership, TrainingRecord, User

    membership = (
        Membership.objects.filter(organisation=organisation, role=role).select_related("user").order_by("id").first()
    )
    if membership is None:
        user = User.objects.get_or_create(
            email=f"bench.{role}.{organisation.ods_code.lower()}@bench.example",
            defaults={"full_name": f"Bench {role.replace('_', ' ').title()}", "password": "!"},
        )[0]
        membership = Membership.objects.create(user=user, organisation=organisation, role=role)
    user = membership.user
    today = timezone.localdate()
    if not user.training_records.filter(expires_on__gte=today).exists():
        TrainingRecord.objects.create(
            user=user, course="Bench", completed_on=today, expires_on=today.replace(year=today.year + 1)
        )
    return user


# The URL permission matrix's personas (tests/url_permissions.py) the bench signs in as: where
# each belongs ("la", "setting" or "national", the bench's LA 7, care setting 3 and the national
# organisation) and with which role. The untrained ones are left out: every child-data page
# stops them at the trained-user gate, a page of its own that is benched as "accounts:home".
PERSONAS = {
    "clinician": ("setting", "clinician"),
    "safeguarding_lead": ("setting", "safeguarding_lead"),
    "social_worker": ("la", "social_worker"),
    "plan_manager": ("la", "plan_manager"),
    "la_admin": ("la", "org_admin"),
    "setting_admin": ("setting", "org_admin"),
    "national_admin": ("national", "national_admin"),
    "privacy_officer": ("setting", "privacy_officer"),
    "la_privacy_officer": ("la", "privacy_officer"),
}

# GET pages that answer 200 to someone but are not benched, each with its reason. Everything
# else the matrix lists is benched: a new page is benched, or named here, or the bench stops.
NOT_BENCHED = {
    "administration:invitation_accept": "an invitee's one-off page, reached by an e-mailed token",
    "single_sign_on:invitation_start": "an invitee's one-off page, reached by an e-mailed token",
    "suppliers:run_report": "opening a conformance run builds its own synthetic world, not national data",
    "suppliers:run_print": "opening a conformance run builds its own synthetic world, not national data",
    "suppliers:la_run_report": "opening a conformance run builds its own synthetic world, not national data",
    "suppliers:la_run_print": "opening a conformance run builds its own synthetic world, not national data",
    "healthz": "a probe for the load balancer, not a page",
    "livez": "a probe for the load balancer, not a page",
    "readyz": "a probe for the load balancer, not a page",
}

# Variants of a page that cost more with the data: (label, query string, extra session keys).
# The plan list's search is kept in the session as the search form keeps it (core.kept_searches),
# never in the URL.
_SIX_MONTHS = object()  # replaced by the six months' date range when the journeys are built
VARIANTS: dict[str, list[tuple[str, str, dict | None]]] = {
    "notifications:inbox": [
        ("new", "", None),
        ("overdue", "status=overdue", None),
        ("acknowledged", "status=acknowledged", None),
        ("acknowledged page 5", "status=acknowledged&page=5", None),
        ("filtered", "status=acknowledged&plan_type=CPP&{days}", None),
    ],
    "plans:list": [
        ("", "", None),
        ("search by name", "child=bench", {"kept_child_searches": {"plans": {"bench": "{family_name}"}}}),
        ("search by NHS number", "child=bench", {"kept_child_searches": {"plans": {"bench": "{nhs_number}"}}}),
    ],
    "reports:report": [("12 weeks", "", None), ("6 months", "{days}", None)],
}

EVERY_ROLE = bool(os.environ.get("BENCH_PAGES_EVERY_ROLE"))
# Pages every persona may open whose content is the role's own: benched for every persona.
PER_ROLE = {"accounts:home"}


def pages_to_bench(expectations: dict) -> list[tuple[str, str]]:
    """(URL name, persona) for every GET page of the permission matrix that answers someone
    with 200, for each persona it answers. A page that answers every persona alike (or anyone
    signed out) is the same page whoever asks, so is benched once, for the first persona (or
    signed out), unless BENCH_PAGES_EVERY_ROLE is set."""
    planned = []
    for name, expect in expectations.items():
        if expect.method != "get" or name in NOT_BENCHED:
            continue
        allowed = [persona for persona in PERSONAS if expect.expected(persona) == 200]
        if expect.expected("anonymous") == 200:
            planned.append((name, "anonymous"))
            if not EVERY_ROLE:
                continue
        elif len(allowed) == len(PERSONAS) and not EVERY_ROLE and name not in PER_ROLE:
            allowed = allowed[:1]
        planned += [(name, persona) for persona in allowed]
    # Last: the national report is the page most likely to outlast the clients' timeout.
    return sorted(planned, key=lambda page: page == ("reports:report", "national_admin"))


def pages_unbuilt(expectations: dict, planned: list[tuple[str, str]]) -> list[str]:
    """The planned pages about one thing that the bench has no URL arguments for."""
    return sorted({name for name, _ in planned if expectations[name].kwargs and name not in URL_KWARGS})


class _World:
    """The bench's own objects that pages about one thing are asked about, made once."""

    def __init__(self, national, las, care_settings):
        from plans.models import Plan, PlanUpload, UploadStatus

        self.organisations = {"la": las[7], "setting": care_settings[3], "national": national}
        self.users = {p: _member(self.organisations[where], role) for p, (where, role) in PERSONAS.items()}
        la = self.organisations["la"]
        self.plan = Plan.objects.filter(organisation=la).order_by("id")[10]
        self.upload = PlanUpload.objects.filter(organisation=la, status=UploadStatus.APPLIED).order_by("-id").first()
        self.queued_upload = PlanUpload.objects.get_or_create(
            organisation=la, filename="bench-queued.csv", defaults={"status": UploadStatus.QUEUED}
        )[0]

    def organisation(self, persona: str):
        return self.organisations[PERSONAS[persona][0]]

    def colleague(self, persona: str):
        """Another user at the persona's organisation, for the admins' pages about a user."""
        from accounts.models import Membership

        organisation = self.organisation(persona)
        return (
            Membership.objects.filter(organisation=organisation).exclude(user=self.users[persona])
            .order_by("id").values_list("user_id", flat=True).first()
        )  # fmt: skip

    def notification(self):
        from notifications.models import Notification

        return Notification.objects.filter(local_authority=self.organisations["la"]).order_by("-id").first()

    def passkey(self, persona: str) -> int:
        from django_otp_webauthn.models import WebAuthnCredential

        user = self.users[persona]
        return WebAuthnCredential.objects.get_or_create(
            user=user, name="Bench",
            defaults={"credential_id": f"bench-{user.pk}".encode(), "public_key": b"-", "confirmed": True},
        )[0].pk  # fmt: skip

    def alert(self, persona: str) -> int:
        from privacy.models import Alert, AlertRule

        # A national admin reviews the alerts about an organisation's only privacy officer.
        subject = self.users["privacy_officer" if persona == "national_admin" else "clinician"]
        organisation = self.organisations["la" if persona == "la_privacy_officer" else "setting"]
        if persona == "la_privacy_officer":
            subject = self.users["social_worker"]
        return Alert.objects.get_or_create(
            user=subject, rule=AlertRule.VOLUME, dedupe_key=f"bench-{persona}",
            defaults={"organisation": organisation, "explanation": "31 checks in 12 hours"},
        )[0].pk  # fmt: skip

    def supplier_system(self) -> int:
        from suppliers.models import SupplierSystem, SystemKind

        return SupplierSystem.objects.get_or_create(
            supplier="Bench", product="EPR", version="1",
            defaults={"kind": SystemKind.CARE_SETTING_EPR, "offers_fhir": True},
        )[0].pk  # fmt: skip


# For each page about one thing: its URL's arguments, for the persona, in the bench's data.
URL_KWARGS = {
    "accounts:passkey_remove": lambda w, p: {"passkey_id": w.passkey(p)},
    "administration:user_detail": lambda w, p: {"user_id": w.colleague(p)},
    "administration:training_record": lambda w, p: {"user_id": w.colleague(p)},
    "administration:user_deactivate": lambda w, p: {"user_id": w.colleague(p)},
    "administration:two_factor_reset": lambda w, p: {"user_id": w.colleague(p)},
    "administration:access_review": lambda w, p: {
        "organisation_id": (w.organisations["la"] if p == "national_admin" else w.organisation(p)).pk
    },
    "administration:access_review_csv": lambda w, p: {
        "organisation_id": (w.organisations["la"] if p == "national_admin" else w.organisation(p)).pk
    },
    "administration:organisation_detail": lambda w, p: {"organisation_id": w.organisations["la"].pk},
    "administration:organisation_edit": lambda w, p: {"organisation_id": w.organisations["la"].pk},
    "attendances:child_for_plan": lambda w, p: {"plan_id": w.plan.pk},
    "attendances:child_for_notification": lambda w, p: {"notification_id": w.notification().pk},
    "guidance:page": lambda w, p: {"slug": "glossary"},
    "notifications:notification_detail": lambda w, p: {"notification_id": w.notification().pk},
    "operations:mesh_mailbox_edit": lambda w, p: {"organisation_id": w.organisations["la"].pk},
    "plans:detail": lambda w, p: {"plan_id": w.plan.pk},
    "plans:edit": lambda w, p: {"plan_id": w.plan.pk},
    "plans:end": lambda w, p: {"plan_id": w.plan.pk},
    "plans:withdraw": lambda w, p: {"plan_id": w.plan.pk},
    "plans:upload_detail": lambda w, p: {"upload_id": w.upload.pk},
    "plans:upload_progress": lambda w, p: {"upload_id": w.queued_upload.pk},
    "plans:upload_rejections": lambda w, p: {"upload_id": w.upload.pk},
    "privacy:alert": lambda w, p: {"alert_id": w.alert(p)},
    "single_sign_on:provider_edit": lambda w, p: {"organisation_id": w.organisations["setting"].pk},
    "suppliers:system_detail": lambda w, p: {"system_id": w.supplier_system()},
    "suppliers:system_edit": lambda w, p: {"system_id": w.supplier_system()},
}


def _expectations() -> dict:
    # The permission matrix is the one list of every URL and who may use it: the bench reads
    # its pages there so that a new page is benched (or named in NOT_BENCHED) without a list
    # of its own to forget.
    from tests.test_url_permissions import EXPECTATIONS

    return EXPECTATIONS


def _journeys(world: "_World") -> list[tuple[str, str, str, tuple | None]]:
    """(page, persona, path, how to sign in: `_session`'s arguments, None signed out) for every
    page of every persona, and its variants."""
    from django.urls import reverse

    expectations = _expectations()
    planned = pages_to_bench(expectations)
    if unbuilt := pages_unbuilt(expectations, planned):
        raise RuntimeError(f"pages with no URL arguments in bench.pages.URL_KWARGS nor NOT_BENCHED: {unbuilt}")
    today = timezone.localdate()
    start = today - timedelta(days=180)
    days = f"date_from_day={start.day}&date_from_month={start.month}&date_from_year={start.year}"
    days += f"&date_to_day={today.day}&date_to_month={today.month}&date_to_year={today.year}"
    fill = {"days": days, "family_name": world.plan.family_name, "nhs_number": world.plan.nhs_number}
    journeys = []
    for name, persona in planned:
        kwargs = URL_KWARGS[name](world, persona) if expectations[name].kwargs else None
        path = reverse(name, kwargs=kwargs)
        for label, query, extra in VARIANTS.get(name, [("", "", None)]):
            if extra:
                extra = {"kept_child_searches": {"plans": {"bench": extra["kept_child_searches"]["plans"]["bench"]
                                                           .format(**fill)}}}  # fmt: skip
            sign_in = None if persona == "anonymous" else (world.users[persona], world.organisation(persona), extra)
            page = f"{name} ({label})" if label else name
            journeys.append((page, persona, path + ("?" + query.format(**fill) if query else ""), sign_in))
    return journeys


def _page_request(path: str, cookie: str | None):
    headers = {"Cookie": cookie} if cookie else {}

    def request():
        try:
            return check._request("GET", path, headers=headers)[0]
        # No answer within the client's 30 s, or an answer cut short (gunicorn's timeout ending
        # the worker mid-stream): an error, not lost.
        except (OSError, http.client.HTTPException):
            return 599

    def make(rng):
        return request

    return make


def _first_answer(path: str, cookie: str | None) -> tuple[int, float]:
    """The page's status and seconds for one request alone, before it is timed (a first
    request compiles the templates, so may take long; two minutes and it has failed)."""
    conn = http.client.HTTPConnection("127.0.0.1", check.PORT, timeout=120)
    started = time.perf_counter()
    try:
        conn.request("GET", path, headers={"Host": f"127.0.0.1:{check.PORT}", **({"Cookie": cookie} if cookie else {})})
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    except (OSError, http.client.HTTPException):
        return 599, time.perf_counter() - started
    finally:
        conn.close()


def _p(latencies: list[float], share: int) -> float:
    if len(latencies) < 2:
        return (latencies or [float("nan")])[0] * 1000
    return statistics.quantiles(latencies, n=100)[share - 1] * 1000


def _settle() -> None:
    """Waits until the server has drained what the offered load left queued (the bare view
    answering within 100 ms), so it does not count against the next page; at most 5 minutes."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        started = time.perf_counter()
        with contextlib.suppress(OSError):
            check._request("GET", "/bench/bare/", timeout=60)
        if time.perf_counter() - started < 0.1:
            return
        time.sleep(0.5)


def _check_journeys(world) -> list[tuple[str, str, object]]:
    """The check on both interfaces, as bench.check drives them, at the bench's care setting:
    (page, persona, what makes its request maker when the journey starts, signed in then)."""
    from fhir.services import api_token_issue

    clinician, setting = world.users["clinician"], world.organisations["setting"]
    on_plan = check._valid_nhs_numbers(PLANS)
    not_on_plan = check._valid_nhs_numbers(5_000, start=900_000)

    def web():
        return check._check_request_factory(_session(clinician, setting), on_plan, not_on_plan)

    def fhir():
        token = api_token_issue(user=clinician, organisation=setting, name="Bench", valid_days=1)[1]
        return check._fhir_request_factory(token, on_plan, not_on_plan)

    return [("check: web (POST /check/)", "clinician", web), ("check: FHIR (GET CareTeam)", "clinician", fhir)]


def _prepared(make):
    """`make` with each client's request made before the clock starts: the check's fetches its
    form first, which would otherwise count against a short round."""
    requests = [make(random.Random(index)) for index in range(check.CLIENTS)]  # noqa: S311 - load, not security
    return lambda rng: requests.pop()


def _bare_offered() -> str:
    bare = offered_load(check._bare_request(None), rate=OFFERED_RATE, seconds=OFFERED_SECONDS)
    return (
        f"bare view at the offered load: p50 {bare.percentile(50):.1f}, p95 {bare.percentile(95):.1f},"
        f" p99 {bare.percentile(99):.1f} ms ({bare.errors} errors); load average {_loadavg()}"
    )


def _ratio_goal(page: str) -> float:
    # Issue 28's goals: the check within 4 times the bare view on the web and 3 on FHIR, every
    # other page within 6.
    if page.startswith("check: web"):
        return 4
    return 3 if page.startswith("check: FHIR") else 6


def _wanted(page: str, persona: str) -> bool:
    if not ONLY:
        return True
    name = page.split(" (")[0]
    return bool({page, name, persona, f"{page}@{persona}", f"{name}@{persona}"} & ONLY)


def run() -> None:
    from reports.progress import go_live_refresh

    db_settings = connections["default"].settings_dict
    database_ensure(db_settings, DATABASE)
    original, check.DATABASE = check.DATABASE, DATABASE
    try:
        with bench_database(DATABASE) as db:
            call_command("migrate", verbosity=0)
            national, las, care_settings = _load(db)
            # A deployed service has every past day rolled up by beat; the reports count only
            # today live. Idempotent: a kept database only gets the days since its last run.
            from reports.rollup import days_roll_up

            began = time.monotonic()
            if rolled := days_roll_up():
                print(f"reports' roll-up: {len(rolled)} days in {time.monotonic() - began:.0f} s", flush=True)
            world = _World(national, las, care_settings)
            journeys = [(page, persona, None, path, sign_in) for page, persona, path, sign_in in _journeys(world)] + [
                (*journey, None, None) for journey in _check_journeys(world)
            ]
            journeys = [j for j in journeys if _wanted(j[0], j[1])]
            with check._gunicorn(db, DATABASE):
                _run_journeys(journeys, go_live_refresh)
    finally:
        check.DATABASE = original
        check._broker_flush()


def _run_journeys(journeys, go_live_refresh) -> None:
    print(
        f"gunicorn: {check.WORKERS} sync workers. Closed loop: {check.CLIENTS} clients, {SECONDS:g} s per page after"
        f" {SECONDS:g} s of the bare view. Offered load: {OFFERED_RATE:g} requests a second for"
        f" {OFFERED_SECONDS:g} s, latency from each request's due time; goal p95 < {GOAL_P95_MS} ms."
    )
    # The machine's own floor at the offered load, again every few pages and at the end: on a
    # shared machine it moves with everyone else's work. The workers' first requests (their
    # database connections, the first imports) are not counted in it.
    check._drive(check._bare_request, seconds=2)
    print(_bare_offered(), flush=True)
    heads = ("page", "role", "req/s", "bare", "ratio", "p50 ms", "p95 ms", "p99 ms", "ratio?", "p95?", "load avg")
    print(
        f"{heads[0]:<48} {heads[1]:<19} {' '.join(f'{h:>7}' for h in heads[2:8])}  {heads[8]:<6} {heads[9]:<6}  {heads[10]}"
    )
    missed, failed = [], []
    refreshed = 0.0
    for done, (page, persona, make, path, sign_in) in enumerate(journeys):
        if done and done % 15 == 0:
            print(_bare_offered(), flush=True)
        # Beat keeps the go-live states every 5 minutes; the progress pages read them live once
        # they are 15 minutes old, which a long run would otherwise reach.
        if time.monotonic() - refreshed > 240:
            go_live_refresh()
            refreshed = time.monotonic()
        if path is not None:
            # Signed in as each page starts: a session idle for 15 minutes (an earlier page's)
            # has been signed out.
            cookie = _session(*sign_in) if sign_in else None
            make = _page_request(path, cookie)
            status, alone = _first_answer(path, cookie)
            if status != 200:
                failed.append(f"{page} as {persona}: {status}")
                print(f"{page:<48} {persona:<19} answered {status} in {alone:.1f} s: not benched", flush=True)
                continue
        else:
            make = make()  # the check's: signed in now
        check._drive(_prepared(make), seconds=1)  # warm the workers' caches
        b_ok, _, _, b_elapsed = check._drive(check._bare_request, seconds=SECONDS)
        ok, errors, _, elapsed = check._drive(_prepared(make), seconds=SECONDS)
        rate, bare_rate = ok / elapsed, b_ok / b_elapsed
        ratio = bare_rate / rate if rate else float("inf")
        if rate < OFFERED_RATE / 4:
            # Offered four times what it serves at most, the queue would only grow: the run
            # would take over four times as long and measure the queue, not the page.
            p50 = p95 = p99 = float("inf")
            note = f" (serves {rate:.1f}/s at most: not offered {OFFERED_RATE:g}/s)"
        else:
            # One request maker for the whole offered load (the check's form fetched once), its
            # requests on many threads at once.
            request = make(random.Random(28))  # noqa: S311 - load generation, not security
            load = offered_load(request, rate=OFFERED_RATE, seconds=OFFERED_SECONDS)
            p50, p95, p99 = load.percentile(50), load.percentile(95), load.percentile(99)
            errors += load.errors
            note = f" (generator late by up to {load.send_lag * 1000:.0f} ms)" if load.send_lag > 0.05 else ""
        _settle()
        ratio_met, p95_met = ratio <= _ratio_goal(page), p95 < GOAL_P95_MS and not errors
        met = f"{'met' if ratio_met else 'MISSED':<6} {'met' if p95_met else 'MISSED':<6}"
        if not (ratio_met and p95_met):
            missed.append(f"{page} as {persona}")
        print(
            f"{page:<48} {persona:<19} {rate:7.1f} {bare_rate:7.1f} {ratio:7.1f} {p50:7.1f} {p95:7.1f} {p99:7.1f}"
            f"  {met}  {_loadavg()}" + (f" ({errors} errors)" if errors else "") + note,
            flush=True,
        )
    print(_bare_offered())
    print(f"goals (ratio within 6, the check 4 on the web and 3 on FHIR; p95 < {GOAL_P95_MS} ms at the offered load):")
    print(
        "  met by every page" if not missed else f"  MISSED by {len(missed)} of {len(journeys)}: " + "; ".join(missed)
    )
    if failed:
        print("  pages that did not answer 200: " + "; ".join(failed))
