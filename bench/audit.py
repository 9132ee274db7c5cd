"""bench.audit: the audit viewer at national scale, beside the bare one-query view.

1. a database of its own (`cpis_bench_audit`, or BENCH_AUDIT_DATABASE; the check bench empties
   the audit table of its own database on every run): 5,000 users at 150 local authorities and
   50 care settings, and BENCH_AUDIT_EVENTS (20,000,000) audit events spread over five years,
   made in SQL with generate_series (kept between runs when the count matches). The children's
   NHS numbers are the check bench's. The indexes are dropped during the load and built again
   after, as PostgreSQL builds them fastest: the same definitions, taken from the database;
2. gunicorn as docker-compose runs it, with bench.settings adding the bare view;
3. 16 concurrent clients, each a signed-in national admin (2FA used, trained), in alternating
   rounds with the bare view: a search by NHS number, by user (e-mail address), by action and
   a month's date range (each a POST of the search and the GET of its results, timed
   together), the next older page of a search by action, and a CSV export of a search by NHS
   number;
4. prints each journey's throughput and p50/p95/p99 beside the bare view's, then one large
   export (a month of every event) alone: its rows per second and its peak Python memory
   (tracemalloc, in this process through Django's test client), against an export a tenth the
   size, to show the memory does not grow with the rows.

Goal (issue 16): p95 under 200 ms for each. Numbers are only comparable within one run.
Knobs: BENCH_AUDIT_EVENTS, BENCH_AUDIT_DATABASE, BENCH_CLIENTS, BENCH_SECONDS (20), BENCH_PORT.
Run just this one with `python -m bench audit`.
"""

import os
import random
import re
import statistics
import time
import tracemalloc
from collections.abc import Callable
from datetime import date, timedelta
from urllib.parse import urlencode

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.utils import timezone

from audit.partitions import month_start, months_after
from bench import check
from bench._database import bench_database, conninfo, database_ensure

EVENTS = int(os.environ.get("BENCH_AUDIT_EVENTS", 20_000_000))
DATABASE = os.environ.get("BENCH_AUDIT_DATABASE", "cpis_bench_audit")
USERS = 5_000
LOCAL_AUTHORITIES = 150
CARE_SETTINGS = 50
CHILDREN = check.PLANS - 10_000
YEARS = 5
ROUNDS = 4
WARM_UP = float(os.environ.get("BENCH_AUDIT_WARM_UP", 8))

# Oldest first, so each month's rows arrive together; a user works at one place. The actions:
# a check (with its NHS number) in every two events, the rest sign-ins, the inbox and plan
# management, as a live service's log looks.
_INSERT_EVENTS = """
    INSERT INTO audit_auditevent (occurred_at, user_id, organisation_id, roles, action, nhs_number,
                                  ip_address, outcome, trace_id, detail)
    SELECT now() - make_interval(secs => %(span)s * (1 - g::float8 / %(events)s)),
           p.id, o.id, CASE WHEN mod(g, 20) < 10 THEN 'social_worker' ELSE 'clinician' END,
           a.action,
           CASE WHEN a.action IN ('child_checked', 'child_viewed_by_la', 'gate_refused', 'plan_viewed')
                THEN c.nhs ELSE '' END,
           ('10.' || mod(g, 250) || '.' || mod(g / 250, 250) || '.1')::inet,
           CASE WHEN a.action IN ('access_refused', 'gate_refused') THEN 'denied' ELSE 'success' END,
           '', CASE WHEN a.action = 'child_checked' THEN jsonb_build_object('visit_id', g) ELSE '{}' END
    FROM generate_series(%(first)s, %(last)s - 1) AS g
    CROSS JOIN LATERAL (SELECT CASE mod(g, 20)
            WHEN 0 THEN 'login' WHEN 1 THEN 'logout' WHEN 2 THEN 'notification_inbox_viewed'
            WHEN 3 THEN 'notification_opened' WHEN 4 THEN 'notification_acknowledged' WHEN 5 THEN 'plan_viewed'
            WHEN 6 THEN 'plan_list_viewed' WHEN 7 THEN 'session_expired' WHEN 8 THEN 'child_viewed_by_la'
            WHEN 9 THEN (ARRAY['role_granted','training_recorded','plan_upload_applied','access_refused',
                               'gate_refused','otp_failed','audit_searched','plan_created'])[1 + mod(g / 20, 8)]
            ELSE 'child_checked' END AS action) a
    JOIN bench_person p ON p.i = mod(hashint8(g) & 2147483647, %(people)s)
    JOIN bench_org o ON o.i = mod(p.i, %(places)s)
    JOIN bench_child c ON c.i = mod(hashint8(g + 7) & 2147483647, %(children)s)
"""


def _people() -> None:
    """Organisations and 5,000 users (once); users and organisations are what events point at."""
    from accounts.models import Organisation, OrganisationKind, SettingType, User

    if User.objects.filter(email__endswith="@audit.bench.example").count() >= USERS:
        return
    organisations = [
        Organisation(
            ods_code=f"ALA{i:03d}",
            name=f"Audit Bench Council {i}",
            kind=OrganisationKind.LOCAL_AUTHORITY,
            office_hours_phone="0113 496 0001",
            emergency_duty_phone="0113 496 0999",
        )
        for i in range(LOCAL_AUTHORITIES)
    ] + [
        Organisation(
            ods_code=f"ACS{i:03d}",
            name=f"Audit Bench Hospital {i}",
            kind=OrganisationKind.CARE_SETTING,
            setting_type=SettingType.ED,
        )
        for i in range(CARE_SETTINGS)
    ]
    Organisation.objects.bulk_create(organisations, ignore_conflicts=True)
    User.objects.bulk_create(
        [User(email=f"user{i:04d}@audit.bench.example", full_name=f"Bench Person {i}") for i in range(USERS)],
        ignore_conflicts=True,
        batch_size=1000,
    )


def _load(db: dict, children: list[str]) -> None:
    with psycopg.connect(conninfo(db, DATABASE), autocommit=True) as conn:
        have = conn.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'audit_auditevent'").fetchone()[0]
        # At least: the viewer's own searches and exports add events to the log as it is measured.
        exact = conn.execute("SELECT count(*) FROM audit_auditevent").fetchone()[0] if have > 0.9 * EVENTS else -1
        if EVENTS <= exact < EVENTS * 1.01:
            return
        started = time.monotonic()
        print(f"making {EVENTS:,} audit events over {YEARS} years ...", flush=True)
        conn.execute("TRUNCATE audit_auditevent")  # the bench's superuser; the trigger lets it
        this_month = month_start(timezone.now())
        for back in range(YEARS * 12 + 1):
            conn.execute("SELECT audit_partition_create(%s)", [months_after(this_month, -back)])
        indexes = conn.execute(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = 'audit_auditevent'::regclass AND NOT i.indisprimary"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        conn.execute("ALTER TABLE audit_auditevent DROP CONSTRAINT audit_auditevent_pkey")
        conn.execute("CREATE TEMPORARY TABLE bench_child (i int PRIMARY KEY, nhs text)")
        with conn.cursor().copy("COPY bench_child FROM STDIN") as copy:
            for i, number in enumerate(children):
                copy.write_row((i, number))
        conn.execute(
            "CREATE TEMPORARY TABLE bench_person AS SELECT row_number() OVER (ORDER BY id) - 1 AS i, id"
            " FROM accounts_user WHERE email LIKE '%@audit.bench.example'"
        )
        conn.execute("CREATE UNIQUE INDEX ON bench_person (i)")
        conn.execute(
            "CREATE TEMPORARY TABLE bench_org AS SELECT row_number() OVER (ORDER BY id) - 1 AS i, id"
            " FROM accounts_organisation WHERE ods_code ~ '^A(LA|CS)[0-9]{3}$'"
        )
        conn.execute("CREATE UNIQUE INDEX ON bench_org (i)")
        people = conn.execute("SELECT count(*) FROM bench_person").fetchone()[0]
        places = conn.execute("SELECT count(*) FROM bench_org").fetchone()[0]
        # The foreign keys are true by construction: checking each of 20,000,000 rows would be
        # most of the load's time. (Only this bench's superuser may switch them off.)
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET synchronous_commit = off")
        span = YEARS * 365 * 24 * 3600
        batch = 1_000_000
        for first in range(0, EVENTS, batch):
            last = min(first + batch, EVENTS)
            conn.execute(
                _INSERT_EVENTS,
                {
                    "span": span,
                    "events": EVENTS,
                    "first": first,
                    "last": last,
                    "people": people,
                    "places": places,
                    "children": len(children),
                },  # fmt: skip
            )
            print(f"  {last:,} events ({time.monotonic() - started:.0f} s)", flush=True)
        conn.execute("RESET session_replication_role")
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("ALTER TABLE audit_auditevent ADD PRIMARY KEY (id, occurred_at)")
        for name, definition in indexes:
            # The parent's definition says ON ONLY (the parent alone); built here on every month.
            conn.execute(definition.replace(" ON ONLY ", " ON "))
            print(f"  index {name} built ({time.monotonic() - started:.0f} s)", flush=True)
        conn.execute("ANALYZE audit_auditevent")
        print(f"audit events ready in {time.monotonic() - started:.0f} s", flush=True)


def _admin_cookies(count: int) -> list[str]:
    """`count` sessions of one national admin, signed in with 2FA used and trained."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import Membership, Organisation, OrganisationKind, Role, TrainingRecord, User

    national, _ = Organisation.objects.get_or_create(
        ods_code="AX26", defaults={"name": "Audit Bench National", "kind": OrganisationKind.NATIONAL}
    )
    user, _ = User.objects.get_or_create(email="bench.national@bench.example", defaults={"full_name": "Bench National"})
    Membership.objects.get_or_create(user=user, organisation=national, role=Role.NATIONAL_ADMIN)
    if not user.training_records.filter(expires_on__gte=timezone.localdate()).exists():
        TrainingRecord.objects.create(user=user, course="Bench", completed_on=timezone.localdate())
    device, _ = TOTPDevice.objects.get_or_create(user=user, name="Bench", defaults={"confirmed": True})
    cookies = []
    for _ in range(count):
        client = Client()
        client.force_login(user, backend="accounts.backends.SessionUserBackend")
        session = client.session
        session["otp_device_id"] = device.persistent_id
        session["login_time"] = session["last_activity"] = int(time.time())
        session.save()
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}")
    return cookies


_EMPTY = {
    "user": "",
    "nhs_number": "",
    "organisation": "",
    "action": "",
    **{f"date_{end}_{part}": "" for end in ("from", "to") for part in ("day", "month", "year")},
}


def _search_factory(cookies: list[str], criteria: Callable[[random.Random], dict], *, then: str = "/audit/"):
    """A client's journey: POST a new search, then GET `then` (the results, or the CSV)."""
    counter = iter(range(10**9))

    def make(rng):
        cookie = cookies[next(counter) % len(cookies)]
        status, body, set_cookie = check._request("GET", "/audit/", headers={"Cookie": cookie})
        assert status == 200, f"audit page answered {status}"
        csrf_cookie = re.search(r"csrftoken=([^;]+)", set_cookie)[1]
        csrf_field = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)[1].decode()
        post_headers = {
            "Cookie": f"{cookie}; csrftoken={csrf_cookie}",
            "Content-Type": "application/x-www-form-urlencoded",
        }

        def request():
            form = {**_EMPTY, **criteria(rng), "csrfmiddlewaretoken": csrf_field}
            status = check._request("POST", "/audit/", body=urlencode(form), headers=post_headers)[0]
            if status != 302:
                return status
            return check._request("GET", then, headers={"Cookie": cookie})[0]

        return request

    return make


def _older_page_factory(cookies: list[str], actions: list[str]):
    """Paging: each request follows the previous page's "Older events" link of a search by
    action, back to the newest page after a few pages."""
    counter = iter(range(10**9))

    def make(rng):
        cookie = cookies[next(counter) % len(cookies)]
        search = _search_factory([cookie], lambda r: {"action": rng.choice(actions)})(rng)
        assert search() == 200
        link = ["/audit/"]

        def request():
            status, body, _ = check._request("GET", link[0], headers={"Cookie": cookie})
            older = re.search(rb'href="(\?before=[0-9.]+)"', body)
            link[0] = "/audit/" + older[1].decode() if older and rng.random() < 0.9 else "/audit/"
            return status

        return request

    return make


def _day_parts(prefix: str, day: date) -> dict:
    return {f"{prefix}_day": str(day.day), f"{prefix}_month": str(day.month), f"{prefix}_year": str(day.year)}


def _month_range(rng) -> dict:
    start = timezone.localdate() - timedelta(days=rng.randrange(30, YEARS * 365 - 30))
    return {**_day_parts("date_from", start), **_day_parts("date_to", start + timedelta(days=30))}


def _export_peak(cookie_client: Client, criteria: dict) -> tuple[int, float, float]:
    """Rows, seconds and peak traced Python memory (MiB) of one export, consumed as it streams."""
    # The export's search is its query string, with an NHS number kept in the session under a
    # key (core.kept_searches), as the search form leaves them.
    query = {k: v for k, v in criteria.items() if v and k != "nhs_number"}
    if criteria.get("nhs_number"):
        session = cookie_client.session
        session["kept_child_searches"] = {"audit": {"bench": criteria["nhs_number"]}}
        session.save()
        query["child"] = "bench"
    tracemalloc.start()
    started = time.monotonic()
    response = cookie_client.get("/audit/export.csv", query)
    lines = sum(chunk.count(b"\n") for chunk in response.streaming_content)
    elapsed = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return lines - 1, elapsed, peak


def _count_against_position(children: list[str], email: str) -> None:
    """What paging by position bought: the old page counted every match (Paginator's COUNT(*))
    and read the page at an OFFSET; the new one reads 51 rows from a position. Each timed warm,
    in this process, on the same searches."""
    from django.core.paginator import Paginator

    from administration.audit_log.selectors import audit_events_page, audit_events_search
    from audit.models import AuditEvent

    def timed(work) -> float:
        work()
        started = time.perf_counter()
        work()
        return (time.perf_counter() - started) * 1000

    everything = AuditEvent.objects.select_related("user", "organisation")
    day = timezone.localdate() - timedelta(days=700)
    searches = {
        "no criteria": {},
        "by NHS number": {"nhs_number": children[1234]},
        "by user": {"user": email},
        "by action (login)": {"action": "login"},
        "by action, month range": {
            "action": "login",
            "date_from": day.isoformat(),
            "date_to": (day + timedelta(days=30)).isoformat(),
        },  # fmt: skip
    }
    for name, criteria in searches.items():
        found = audit_events_search(everything, criteria)
        count = timed(lambda: found.count())  # noqa: B023 - called at once
        # The old viewer's page 100 (or its last page): the count, then the OFFSET.
        pages = Paginator(found, 50)
        deep = timed(lambda: list(pages.page(min(100, pages.num_pages)).object_list))  # noqa: B023
        first = audit_events_page(found, size=50)
        position = timed(lambda: audit_events_page(found, size=50))  # noqa: B023
        older = timed(lambda: audit_events_page(found, older_than=first.older, size=50))  # noqa: B023
        print(
            f"  {name:<24} COUNT(*) {count:8.1f} ms, OFFSET page {min(100, pages.num_pages)} {deep:8.1f} ms; "
            f"by position: newest page {position:6.1f} ms, next older {older:6.1f} ms"
        )


def run() -> None:
    db_settings = connections["default"].settings_dict
    database_ensure(db_settings, DATABASE)
    children = check._valid_nhs_numbers(CHILDREN)
    with bench_database(DATABASE) as db:
        call_command("migrate", verbosity=0)
        _people()
        _load(db, children)
        cookies = _admin_cookies(check.CLIENTS * 4)
        emails = [f"user{i:04d}@audit.bench.example" for i in range(0, USERS, 7)]
        actions = ["login", "plan_viewed", "notification_opened", "role_granted", "gate_refused"]
        journeys = {
            "bare": check._bare_request,
            "by NHS number": _search_factory(cookies, lambda r: {"nhs_number": r.choice(children)}),
            "by user": _search_factory(cookies, lambda r: {"user": r.choice(emails)}),
            "by action, month range": _search_factory(
                cookies, lambda r: {"action": r.choice(actions), **_month_range(r)}
            ),
            "older page (by action)": _older_page_factory(cookies, actions),
            "CSV by NHS number": _search_factory(
                cookies, lambda r: {"nhs_number": r.choice(children)}, then="/audit/export.csv"
            ),
        }
        seconds = check.DURATION / ROUNDS
        with check._gunicorn(db, DATABASE):
            print(f"gunicorn: {check.WORKERS} sync workers; {check.CLIENTS} concurrent clients; {EVENTS:,} events")
            # Long enough for every worker to compile each page's templates once.
            for make in journeys.values():
                check._drive(make, seconds=WARM_UP)
            totals = {name: [0, 0, 0.0] for name in journeys}
            latencies: dict[str, list[float]] = {name: [] for name in journeys}
            for _ in range(ROUNDS):
                for name, make in journeys.items():
                    ok, errors, lat, elapsed = check._drive(make, seconds=seconds)
                    totals[name][0] += ok
                    totals[name][1] += errors
                    totals[name][2] += elapsed
                    latencies[name] += lat
        for name in journeys:
            ok, errors, elapsed = totals[name]
            cuts = statistics.quantiles(latencies[name], n=100) if len(latencies[name]) > 1 else [0.0] * 99
            print(
                f"{name:<24} {ok / elapsed:7.1f} req/s ({ok:,} ok, {errors:,} errors)  "
                f"p50 {cuts[49] * 1000:6.1f} ms  p95 {cuts[94] * 1000:6.1f} ms  p99 {cuts[98] * 1000:6.1f} ms"
                + ("" if name == "bare" else "  (goal p95 < 200 ms)")
            )
        print("What paging by position bought (in-process, one query each, warm):")
        _count_against_position(children, emails[0])
        # Exports, alone, in this process: a month of everything and a tenth of it.
        client = Client()
        client.cookies.load(cookies[0])
        day = timezone.localdate() - timedelta(days=400)
        for span in (3, 30):
            criteria = {"date_from": day.isoformat(), "date_to": (day + timedelta(days=span - 1)).isoformat()}
            rows, elapsed, peak = _export_peak(client, criteria)
            print(
                f"CSV export of {span} days: {rows:,} rows in {elapsed:.1f} s ({rows / elapsed:,.0f} rows/s), "
                f"peak Python memory {peak:.1f} MiB"
            )
    check._broker_flush()
