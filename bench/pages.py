"""bench.pages: every page that grows with the data, at national scale, beside the bare view.

1. a database of its own (`cpis_bench_pages`, or BENCH_PAGES_DATABASE) holding 150 local
   authorities, 30 care settings, 5,000 users (memberships, training, 2FA), 150,000 plans,
   1,000,000 visits with their `child_checked` audit events, 200,000 notifications with their
   delivery rows and 12 plan uploads per LA, generated in SQL (generate_series) and COPY; kept
   between runs while the counts match; its past days rolled up for the reports, as beat
   keeps them in a deployed service;
2. gunicorn as bench.check starts it (production settings, sync workers, bench.settings adding
   the bare one-query view);
3. for each page: 16 concurrent clients on the bare view, then 16 on the page, alternating,
   each signed in as the role that uses the page (2FA done, trained), as a browser would;
4. prints each page's throughput and p50/p95 latency beside the bare view's from the round
   just before it, and the ratio of their throughputs; the load average with each.

The audit viewer is benched by bench.audit (its own data: 20,000,000 events). Goal: p95 under
200 ms at 16 clients. Knobs: BENCH_PAGES_DATABASE, BENCH_PAGES_SECONDS (6 per page and per
bare round), BENCH_PAGES_ONLY (comma-separated journey names), and bench.check's BENCH_CLIENTS,
BENCH_WORKERS, BENCH_PORT, BENCH_REDIS_URL. Run it with `python -m bench pages`.
"""

import http.client
import os
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

DATABASE = os.environ.get("BENCH_PAGES_DATABASE", "cpis_bench_pages")
SECONDS = float(os.environ.get("BENCH_PAGES_SECONDS", 6))
ONLY = {name for name in os.environ.get("BENCH_PAGES_ONLY", "").split(",") if name}
LOCAL_AUTHORITIES = 150
CARE_SETTINGS = 30
USERS = 5_000
PLANS = 150_000
VISITS = 1_000_000
NOTIFICATIONS = 200_000
UPLOADS_PER_LA = 12
# Users per LA: 20 social workers, 7 plan managers, 3 org admins; the rest at care settings.
LA_USERS = 30
SURNAMES = 4_000


def _loadavg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _organisations():
    from accounts.models import Organisation, OrganisationKind, SettingType

    def make(ods, **fields):
        return Organisation.objects.get_or_create(ods_code=ods, defaults=fields)[0]

    national = make("BPNAT", name="Bench National", kind=OrganisationKind.NATIONAL)
    las = [
        make(
            f"BPL{i:03d}",
            name=f"Bench Council {i:03d}",
            kind=OrganisationKind.LOCAL_AUTHORITY,
            office_hours_phone="0113 496 0001",
            emergency_duty_phone="0113 496 0999",
            team_mailbox=f"team{i}@la.bench.example",
        )
        for i in range(LOCAL_AUTHORITIES)
    ]
    types = list(SettingType.values)
    settings_ = [
        make(
            f"BPC{i:03d}",
            name=f"Bench Hospital {i:03d}",
            kind=OrganisationKind.CARE_SETTING,
            setting_type=types[i % len(types)],
            phone="0113 496 0100",
        )
        for i in range(CARE_SETTINGS)
    ]
    return national, las, settings_


def _la_role(index_in_la: int) -> str:
    from accounts.models import Role

    if index_in_la < 20:
        return Role.SOCIAL_WORKER
    if index_in_la < 27:
        return Role.PLAN_MANAGER
    return Role.ORG_ADMIN


def _users(national, las, care_settings) -> None:
    """5,000 users with a membership each, training (some expiring soon, some lapsed), and 2FA
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
        elif n < USERS - 10:
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

    return (
        count("plans_plan") == PLANS
        and count("attendances_visit") == VISITS
        and count("notifications_notification") == NOTIFICATIONS
        and count("accounts_user") >= USERS
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
    from accounts.models import Membership, TrainingRecord

    membership = (
        Membership.objects.filter(organisation=organisation, role=role).select_related("user").order_by("id").first()
    )
    user = membership.user
    today = timezone.localdate()
    if not user.training_records.filter(expires_on__gte=today).exists():
        TrainingRecord.objects.create(
            user=user, course="Bench", completed_on=today, expires_on=today.replace(year=today.year + 1)
        )
    return user


def _journeys(national, las, care_settings) -> list[tuple[str, str, str | None]]:
    """(name, path, session cookie) for every page that grows with the data."""
    from django.urls import reverse

    from accounts.models import Role
    from plans.models import Plan

    la, setting = las[7], care_settings[3]
    social_worker = _session(_member(la, Role.SOCIAL_WORKER), la)
    plan_manager = _member(la, Role.PLAN_MANAGER)
    la_admin = _session(_member(la, Role.ORG_ADMIN), la)
    setting_admin = _session(_member(setting, Role.ORG_ADMIN), setting)
    national_admin = _session(_member(national, Role.NATIONAL_ADMIN), national)
    clinician = _session(_member(setting, Role.CLINICIAN), setting)
    sample = Plan.objects.filter(organisation=la).order_by("id")[10]

    def plan_search(q: str) -> tuple[str, str]:
        """The list's URL and a session for a search by `q`, kept as the search form keeps it
        (core.kept_searches): never in the URL itself."""
        if not q:
            return plans, _session(plan_manager, la)
        key = "bench"
        return f"{plans}?child={key}", _session(plan_manager, la, {"kept_child_searches": {"plans": {key: q}}})

    today = timezone.localdate()
    start = today - timedelta(days=180)
    days = f"date_from_day={start.day}&date_from_month={start.month}&date_from_year={start.year}"
    days += f"&date_to_day={today.day}&date_to_month={today.month}&date_to_year={today.year}"
    inbox = reverse("notifications:inbox")
    plans = reverse("plans:list")
    report = reverse("reports:report")
    return [
        ("inbox: new", inbox, social_worker),
        ("inbox: overdue", f"{inbox}?status=overdue", social_worker),
        ("inbox: acknowledged", f"{inbox}?status=acknowledged", social_worker),
        ("inbox: acknowledged, page 5", f"{inbox}?status=acknowledged&page=5", social_worker),
        ("inbox: filtered", f"{inbox}?status=acknowledged&plan_type=CPP&{days}", social_worker),
        ("plans: list", *plan_search("")),
        ("plans: search by name", *plan_search(sample.family_name)),
        ("plans: search by NHS number", *plan_search(sample.nhs_number)),
        ("access review", reverse("administration:access_review", args=[la.pk]), la_admin),
        ("dashboard: social worker", "/", social_worker),
        ("dashboard: plan manager", "/", _session(plan_manager, la)),
        ("dashboard: LA org admin", "/", la_admin),
        ("dashboard: national admin", "/", national_admin),
        ("dashboard: clinician", "/", clinician),
        ("report: LA", report, la_admin),
        ("report: LA, 6 months", f"{report}?{days}", la_admin),
        ("report: care setting", report, setting_admin),
        ("report: care setting, 6 months", f"{report}?{days}", setting_admin),
        ("progress: public", reverse("reports:progress_public"), None),
        ("progress: national list", reverse("reports:progress_organisations"), national_admin),
        # Last: on a loaded machine its requests outlast the clients' 30 s and hold the
        # server's workers, which would count against whatever page came next.
        ("report: national", report, national_admin),
        ("report: national, 6 months", f"{report}?{days}", national_admin),
    ]


def _page_request(path: str, cookie: str | None):
    headers = {"Cookie": cookie} if cookie else {}

    def request():
        try:
            return check._request("GET", path, headers=headers)[0]
        except OSError:  # no answer within the client's 30 s: counted as an error, not lost
            return 599

    def make(rng):
        return request

    return make


def _first_answer(path: str, cookie: str | None) -> int:
    """The page answers 200 before it is timed, however long the first request takes."""
    conn = http.client.HTTPConnection("127.0.0.1", check.PORT, timeout=600)
    try:
        conn.request("GET", path, headers={"Host": f"127.0.0.1:{check.PORT}", **({"Cookie": cookie} if cookie else {})})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _p(latencies: list[float], share: int) -> float:
    if len(latencies) < 2:
        return (latencies or [float("nan")])[0] * 1000
    return statistics.quantiles(latencies, n=100)[share - 1] * 1000


def run() -> None:
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
            journeys = [j for j in _journeys(national, las, care_settings) if not ONLY or j[0] in ONLY]
            with check._gunicorn(db, DATABASE):
                for name, path, cookie in journeys:
                    status = _first_answer(path, cookie)
                    if status != 200:
                        raise RuntimeError(f"{name}: GET {path} answered {status}")
                print(
                    f"gunicorn: {check.WORKERS} sync workers; {check.CLIENTS} concurrent clients; "
                    f"{SECONDS:g} s per page, each after {SECONDS:g} s of the bare view; goal p95 < 200 ms"
                )
                print(
                    f"{'page':<32} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7}   {'bare req/s':>10} {'bare p95':>8}"
                    f" {'ratio':>6}  load avg"
                )
                missed = []
                for name, path, cookie in journeys:
                    check._drive(_page_request(path, cookie), seconds=1)  # warm the workers' caches
                    b_ok, _, b_lat, b_elapsed = check._drive(check._bare_request, seconds=SECONDS)
                    ok, errors, lat, elapsed = check._drive(_page_request(path, cookie), seconds=SECONDS)
                    rate, bare_rate = ok / elapsed, b_ok / b_elapsed
                    p95 = _p(lat, 95)
                    if p95 >= 200 or errors:
                        missed.append(name)
                    print(
                        f"{name:<32} {rate:7.1f} {_p(lat, 50):7.1f} {p95:7.1f}   {bare_rate:10.1f} {_p(b_lat, 95):8.1f}"
                        f" {bare_rate / rate if rate else float('inf'):6.1f}  {_loadavg()}"
                        + (f"  ({errors} errors)" if errors else ""),
                        flush=True,
                    )
                print("goal p95 < 200 ms: " + ("met by every page" if not missed else "MISSED by " + ", ".join(missed)))
    finally:
        check.DATABASE = original
        check._broker_flush()
