"""bench.national: the national pages at 10 and at 1,352 organisations, beside the bare view.

Issue 28 asks the national report, the implementation-progress pages and the national admin's
home to cost the same whatever the size of England: within 6 times the bare one-query view, and
flat from 10 to 1,200 organisations and from 1 to 12 months of range.

1. two databases of their own (`cpis_bench_national_10`, `cpis_bench_national_1352`, or
   BENCH_NATIONAL_DATABASE as a prefix): 5 local authorities and 5 care settings, then 152 local
   authorities and 1,200 care settings, each with a year of daily figures rolled up as beat keeps
   them (reports.DayFigures: a care setting's checks and alerts, an LA's notifications, overdue
   and acknowledgement times, about 200,000 notifications a year across England; and what the
   roll-up keeps from them, reports.rollup.kept_rebuild), 12 plan uploads
   per LA, a trained social worker at most LAs and a trained clinician at most care settings,
   and every go-live state kept (reports.progress.go_live_refresh, as beat runs it); kept
   between runs while the counts match;
2. gunicorn as bench.check starts it, on each database in turn;
3. for each page: BENCH_CLIENTS (16) clients on the bare view, then on the page, signed in as a
   national admin (the public page signed out), BENCH_NATIONAL_SECONDS (5) each;
4. prints each page's throughput, p50/p95 and its ratio to the bare view of the round just
   before it, then the ratios at both sizes side by side.

Skipped by a bare `make bench` unless BENCH_NATIONAL=1 (it loads two databases); run it with
`python -m bench national`. Knobs: BENCH_NATIONAL_DATABASE, BENCH_NATIONAL_SECONDS, and
bench.check's BENCH_CLIENTS, BENCH_WORKERS, BENCH_PORT, BENCH_REDIS_URL.
"""

import os
import sys
import time
from datetime import timedelta

import psycopg
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from bench import check, pages
from bench._database import bench_database, conninfo, database_ensure

PREFIX = os.environ.get("BENCH_NATIONAL_DATABASE", "cpis_bench_national")
SECONDS = float(os.environ.get("BENCH_NATIONAL_SECONDS", 5))
SIZES = [(5, 5), (152, 1_200)]  # (local authorities, care settings)
DAYS = 365
UPLOADS_PER_LA = 12
GOAL = 6.0

# A year of each organisation's rolled-up days, in SQL: 3 to 4 notifications a day per LA, each
# acknowledged within two days (times up to 48 hours, in tenths), 1 in 40 overdue; 5 to 15 checks
# a day per care setting, 1 in 10 raising an alert.
_DAY_FIGURES_SQL = """
INSERT INTO reports_dayfigures (organisation_id, day, checks, alerts, notifications, overdue, acknowledged,
                                acknowledged_from)
SELECT o.id, d::date,
       CASE WHEN o.kind = 'care_setting' THEN 5 + (o.id + g) %% 11 ELSE 0 END,
       CASE WHEN o.kind = 'care_setting' THEN (o.id + g) %% 2 ELSE 0 END,
       CASE WHEN o.kind = 'local_authority' THEN 3 + (o.id + g) %% 2 ELSE 0 END,
       CASE WHEN o.kind = 'local_authority' AND (o.id + g) %% 40 = 0 THEN 1 ELSE 0 END,
       CASE WHEN o.kind = 'local_authority' THEN jsonb_build_object(
           to_char(d - interval '1 day', 'YYYY-MM-DD'), jsonb_build_array((o.id * 7 + g) %% 480, (o.id + g * 13) %% 480),
           to_char(d, 'YYYY-MM-DD'), jsonb_build_array((o.id + g * 3) %% 240, (o.id * 5 + g) %% 120))
       ELSE '{}'::jsonb END,
       CASE WHEN o.kind = 'local_authority' THEN (d - interval '1 day')::date END
FROM accounts_organisation o,
     generate_series(%(first)s::date, %(last)s::date, interval '1 day') WITH ORDINALITY AS s(d, g)
WHERE o.kind <> 'national'
"""


def _database(size: tuple[int, int]) -> str:
    return f"{PREFIX}_{sum(size)}"


def _organisations(size: tuple[int, int]):
    from accounts.models import Organisation, OrganisationKind, Region, SettingType

    n_las, n_settings = size
    regions = list(Region.values)
    types = list(SettingType.values)

    def make(ods, **fields):
        return Organisation.objects.get_or_create(ods_code=ods, defaults=fields)[0]

    national = make("BNNAT", name="Bench National", kind=OrganisationKind.NATIONAL)
    existing = set(Organisation.objects.values_list("ods_code", flat=True))
    Organisation.objects.bulk_create(
        [
            Organisation(
                ods_code=f"BNL{i:03d}", name=f"Bench Council {i:03d}", kind=OrganisationKind.LOCAL_AUTHORITY,
                region=regions[i % len(regions)], office_hours_phone="0113 496 0001",
                emergency_duty_phone="0113 496 0999", team_mailbox=f"team{i}@la.bench.example" if i % 9 else "",
            )
            for i in range(n_las)
            if f"BNL{i:03d}" not in existing
        ]
        + [
            Organisation(
                ods_code=f"BNC{i:04d}", name=f"Bench Hospital {i:04d}", kind=OrganisationKind.CARE_SETTING,
                setting_type=types[i % len(types)], region=regions[i % len(regions)] if i % 13 else "",
                phone="0113 496 0100",
            )
            for i in range(n_settings)
            if f"BNC{i:04d}" not in existing
        ]
    )  # fmt: skip
    return national


def _load(db: dict, database: str, size: tuple[int, int]):
    """The organisations, their people and a year of their days, unless already there."""
    from accounts.models import Membership, Organisation, OrganisationKind, Role, TrainingRecord, User
    from plans.models import PlanUpload, UploadStatus
    from reports.models import DayFigures, NationalDayFigures, RolledUpDay
    from reports.progress import go_live_refresh
    from reports.rollup import kept_rebuild

    national = _organisations(size)
    today = timezone.localdate()
    first, last = today - timedelta(days=DAYS), today - timedelta(days=1)
    organisations = list(Organisation.objects.exclude(kind=OrganisationKind.NATIONAL).order_by("pk"))
    expected = len(organisations) * DAYS
    if (
        DayFigures.objects.filter(day=last).count() == len(organisations)
        and DayFigures.objects.count() == expected
        and PlanUpload.objects.count() == UPLOADS_PER_LA * size[0]
    ):
        if NationalDayFigures.objects.count() != DAYS:
            kept_rebuild()
        go_live_refresh()
        return national
    print(f"loading {database} ...", flush=True)
    started = time.monotonic()
    with psycopg.connect(conninfo(db, database), autocommit=True) as conn:
        conn.execute(
            "TRUNCATE reports_dayfigures, reports_rolledupday, plans_planupload, accounts_trainingrecord, "
            "accounts_membership, otp_totp_totpdevice, accounts_user, reports_golivestate CASCADE"
        )
        conn.execute(_DAY_FIGURES_SQL, {"first": first, "last": last})
    RolledUpDay.objects.bulk_create([RolledUpDay(day=first + timedelta(days=n)) for n in range(DAYS)])
    # What the roll-up keeps from each day's rows (histograms, the country's days), from them.
    kept_rebuild()
    now = timezone.now()
    las = [o for o in organisations if o.is_local_authority]
    PlanUpload.objects.bulk_create(
        PlanUpload(
            organisation=la, filename="plans.csv", status=UploadStatus.APPLIED,
            applied_at=now - timedelta(days=30 * n + la.pk % 20),
            counts={"rows": 1_000, "accepted": 1_000 - (la.pk * 7 + n) % 80},
        )
        for la in las
        for n in range(UPLOADS_PER_LA)
    )  # fmt: skip
    # One trained user at most organisations (a social worker or a clinician), so some are live.
    users = User.objects.bulk_create(
        User(email=f"bench.national{o.pk}@bench.example", full_name=f"Bench User {o.pk}", password="!")
        for o in organisations
    )
    Membership.objects.bulk_create(
        Membership(user=u, organisation=o, role=Role.SOCIAL_WORKER if o.is_local_authority else Role.CLINICIAN)
        for u, o in zip(users, organisations, strict=True)
    )
    TrainingRecord.objects.bulk_create(
        TrainingRecord(
            user=u, course="Bench", completed_on=today - timedelta(days=300),
            expires_on=today + timedelta(days=65) if o.pk % 7 else today - timedelta(days=1),
        )
        for u, o in zip(users, organisations, strict=True)
    )  # fmt: skip
    admin = User.objects.create(email="bench.national.admin@bench.example", full_name="Bench Admin", password="!")
    Membership.objects.create(user=admin, organisation=national, role=Role.NATIONAL_ADMIN)
    with psycopg.connect(conninfo(db, database), autocommit=True) as conn:
        for table in (
            "reports_dayfigures", "reports_acknowledgementtimes", "reports_nationaldayfigures", "plans_planupload",
            "accounts_organisation", "accounts_membership",
        ):  # fmt: skip
            conn.execute(f"VACUUM ANALYZE {table}")
    go_live_refresh()
    print(f"  loaded in {time.monotonic() - started:.0f} s", flush=True)
    return national


def _journeys(national) -> list[tuple[str, str, str | None]]:
    from django.urls import reverse

    from accounts.models import Role

    admin = pages._session(pages._member(national, Role.NATIONAL_ADMIN), national)
    today = timezone.localdate()

    def since(days: int) -> str:
        start = today - timedelta(days=days - 1)
        return f"?date_from_day={start.day}&date_from_month={start.month}&date_from_year={start.year}"

    report = reverse("reports:report")
    return [
        ("home: national admin", "/", admin),
        ("progress: public", reverse("reports:progress_public"), None),
        ("progress: national list", reverse("reports:progress_organisations"), admin),
        ("report: national, 1 month", f"{report}{since(30)}", admin),
        ("report: national, 12 months", f"{report}{since(365)}", admin),
    ]


def _run_size(size: tuple[int, int]) -> dict[str, float]:
    database = _database(size)
    db_settings = connections["default"].settings_dict
    database_ensure(db_settings, database)
    ratios = {}
    with bench_database(database) as db:
        call_command("migrate", verbosity=0)
        national = _load(db, database, size)
        journeys = _journeys(national)
        with check._gunicorn(db, database):
            for name, path, cookie in journeys:
                status, _ = pages._first_answer(path, cookie)
                if status != 200:
                    raise RuntimeError(f"{name}: GET {path} answered {status}")
            print(
                f"\n{size[0]} local authorities, {size[1]} care settings: {check.WORKERS} sync workers, "
                f"{check.CLIENTS} clients, {SECONDS:g} s per page after {SECONDS:g} s of the bare view"
            )
            print(f"{'page':<30} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7}   {'bare req/s':>10} {'ratio':>6}  load avg")
            for name, path, cookie in journeys:
                check._drive(pages._page_request(path, cookie), seconds=1)  # warm the workers
                b_ok, _, _, b_elapsed = check._drive(check._bare_request, seconds=SECONDS)
                ok, errors, lat, elapsed = check._drive(pages._page_request(path, cookie), seconds=SECONDS)
                rate, bare_rate = ok / elapsed, b_ok / b_elapsed
                ratios[name] = bare_rate / rate if rate else float("inf")
                print(
                    f"{name:<30} {rate:7.1f} {pages._p(lat, 50):7.1f} {pages._p(lat, 95):7.1f}   {bare_rate:10.1f}"
                    f" {ratios[name]:6.1f}  {pages._loadavg()}" + (f"  ({errors} errors)" if errors else ""),
                    flush=True,
                )
    return ratios


def run() -> None:
    if "national" not in sys.argv[1:] and not os.environ.get("BENCH_NATIONAL"):
        print("skipped (loads two databases): run `python -m bench national`, or set BENCH_NATIONAL=1")
        return
    try:
        by_size = [_run_size(size) for size in SIZES]
    finally:
        check._broker_flush()
    print(f"\nratio to the bare view (goal: within {GOAL:g}, and flat)")
    heads = [f"{sum(size):,} orgs" for size in SIZES]
    print(f"{'page':<30} " + " ".join(f"{h:>11}" for h in heads) + "   growth")
    for name in by_size[0]:
        small, large = by_size[0][name], by_size[-1][name]
        met = "met" if max(small, large) <= GOAL else "MISSED"
        print(f"{name:<30} {small:11.1f} {large:11.1f}   {large / small:5.2f}x  {met}")
