"""A 100,000-row plan upload (parse, validate, apply) beside a raw PostgreSQL COPY of the same
rows into a table of the same shape, measured in the same run (SPEC 4 "Performance").

Run: DATABASE_URL=postgres://root@127.0.0.1:5432/cpis_plans_bench make bench
The database is created and migrated if it does not exist. The upload runs in a fresh
process so that its peak resident memory is its own.
"""

import io
import itertools
import multiprocessing
import random
import time
from datetime import date, timedelta

import psycopg
from django.core.management import call_command
from django.db import connection, connections

from bench._database import database_ensure

ROWS = 100_000
ODS_CODE = "BENCH01"
FAMILY_NAMES = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "O'Brien"]
GIVEN_NAMES = ["Olivia", "Amelia", "Isla", "Noah", "Oliver", "Muhammad", "Leo", "Ava", "Freya", "Zoë Anne"]


def _database_ensure() -> None:
    database_ensure(connection.settings_dict, connection.settings_dict["NAME"])
    call_command("migrate", verbosity=0)


def _nhs_numbers(count: int) -> list[str]:
    from core.nhs_numbers import nhs_test_numbers

    return list(itertools.islice(nhs_test_numbers(prefix="9"), count))


def _rows(today: date, count: int = ROWS) -> list[list[str]]:
    """Realistic rows: 60% CPP, 30% LAC, 10% UCPP; a fifth ended; every one valid."""
    rng = random.Random(20261125)  # noqa: S311 - a repeatable benchmark, not a secret
    rows = []
    for number in _nhs_numbers(count):
        kind = rng.random()
        plan_type = "CPP" if kind < 0.6 else ("LAC" if kind < 0.9 else "UCPP")
        if plan_type == "UCPP":
            born = today - timedelta(days=rng.randint(18 * 365, 40 * 365))
            start = today - timedelta(days=rng.randint(0, 200))
            due = (start + timedelta(days=rng.randint(30, 240))).isoformat()
        else:
            born = today - timedelta(days=rng.randint(30, 17 * 365))
            start = born + timedelta(days=rng.randint(0, (today - born).days))
            due = ""
        ended = rng.random() < 0.2 and start < today
        end = (start + timedelta(days=rng.randint(0, (today - start).days))).isoformat() if ended else ""
        rows.append([
            number, rng.choice(FAMILY_NAMES), rng.choice(GIVEN_NAMES), born.isoformat(), plan_type,
            start.strftime("%d/%m/%Y"), end, due, f"LA-{rng.randint(100000, 999999)}", "",
        ])  # fmt: skip
    return rows


def _csv(rows: list[list[str]]) -> bytes:
    import csv

    from plans.upload_rows import COLUMNS

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return b"\xef\xbb\xbf" + buffer.getvalue().encode()


def _copy_text(rows: list[list[str]], organisation_id: int) -> bytes:
    """The same rows as COPY's text format, already typed: the most COPY can be given."""
    lines = []
    for nhs, family, given, born, plan_type, start, end, due, reference, _ in rows:
        day, month, year = start.split("/")
        lines.append(
            "\t".join(
                [
                    str(organisation_id),
                    nhs,
                    family,
                    given,
                    born,
                    plan_type,
                    f"{year}-{month}-{day}",
                    end or "\\N",
                    due or "\\N",
                    reference,
                    "f",
                    "now",
                    "now",
                    "File import",
                    "upload",
                    "1",
                ]
            )  # fmt: skip
        )
    return ("\n".join(lines) + "\n").encode()


def _copy_seconds(copy_text: bytes) -> float:
    settings = connection.settings_dict
    params = {"host": settings["HOST"] or None, "port": settings["PORT"] or None, "user": settings["USER"] or None}
    with psycopg.connect(dbname=settings["NAME"], **params) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_plan_copy")
        # The plan table's shape: columns, defaults, constraints and indexes (not the LA foreign key).
        conn.execute("CREATE TABLE bench_plan_copy (LIKE plans_plan INCLUDING ALL)")
        conn.commit()
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy(
                "COPY bench_plan_copy (organisation_id, nhs_number, family_name, given_names, date_of_birth, "
                "plan_type, start_date, end_date, expected_due_date, la_reference, withdrawn, created_at, "
                "updated_at, created_by_name, created_source, created_upload_id) FROM STDIN"
            ) as copy,
        ):
            copy.write(copy_text)
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_plan_copy")
        conn.commit()
    return elapsed


def _memory_kib(field: str) -> int:
    """VmHWM (peak) or VmRSS (now) of this process. Not ru_maxrss: Linux carries that over
    from the parent through fork and exec, so it would report the parent's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _upload_in_child(organisation_id: int, content: bytes, with_preview: bool, sender) -> None:
    import django

    django.setup()
    from accounts.models import Organisation
    from plans.models import PlanUpload, UploadStatus
    from plans.uploads import plan_upload_analyse, plan_upload_apply, plan_upload_import

    organisation = Organisation.objects.get(pk=organisation_id)
    before_kib = _memory_kib("VmRSS")
    started = time.perf_counter()
    preview_seconds = 0.0
    if with_preview:
        # The browser's path: the stored file, the preview's pass (which keeps its
        # classification), then the confirmed apply, which writes what the preview kept.
        upload = PlanUpload.objects.create(organisation=organisation, filename="bench.csv", content=content)
        plan_upload_analyse(upload_id=upload.pk)
        preview_seconds = time.perf_counter() - started
        PlanUpload.objects.filter(pk=upload.pk).update(status=UploadStatus.QUEUED)
        plan_upload_apply(upload_id=upload.pk)
        upload.refresh_from_db()
    else:
        upload = plan_upload_import(
            organisation=organisation, filename="bench.csv", file=io.BytesIO(content), dry_run=False
        )
    elapsed = time.perf_counter() - started
    peak_kib = _memory_kib("VmHWM")
    sender.send((elapsed, upload.file_code, upload.counts, before_kib, peak_kib, preview_seconds))
    connections.close_all()


def _upload(organisation_id: int, content: bytes, *, with_preview: bool = False) -> tuple:
    connections.close_all()
    # A fresh interpreter: its peak memory is Django's plus the upload's, nothing of ours.
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_upload_in_child, args=(organisation_id, content, with_preview, sender))
    process.start()
    result = receiver.recv()
    process.join()
    return result


def run() -> None:
    if connection.vendor != "postgresql":
        print("skipped: the plan upload benchmark needs PostgreSQL (set DATABASE_URL)")
        return
    _database_ensure()
    from accounts.models import Organisation, OrganisationKind
    from plans.models import Plan, PlanUpload

    organisation, _ = Organisation.objects.get_or_create(
        ods_code=ODS_CODE,
        defaults={
            "name": "Benchmark Borough Council",
            "kind": OrganisationKind.LOCAL_AUTHORITY,
            "emergency_duty_phone": "0113 496 0999",
        },
    )
    Plan.objects.filter(organisation=organisation).delete()
    PlanUpload.objects.filter(organisation=organisation).delete()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE plans_plan")

    from django.utils import timezone

    rows = _rows(timezone.localdate())
    content = _csv(rows)
    copy_text = _copy_text(rows, organisation.pk)
    print(f"file: {ROWS:,} rows, {len(content) / 1024 / 1024:.1f} MB; load average {_load_average()}")

    copy_first = _copy_seconds(copy_text)
    elapsed, file_code, counts, before_kib, peak_kib, _ = _upload(organisation.pk, content)
    print(f"raw COPY of the same rows:            {copy_first:7.2f} s")
    print(f"upload end to end (parse, validate, apply): {elapsed:7.2f} s  ({file_code}, created {counts['created']:,})")
    print(f"ratio upload / COPY:                  {elapsed / copy_first:7.2f}  (goal ≤ 3)")
    print(
        f"upload peak memory (process RSS):     {peak_kib / 1024:7.0f} MB  "
        f"(+{(peak_kib - before_kib) / 1024:.0f} MB over the process before it; goal < 300 MB)"
    )
    again, file_code, counts, _, peak_again, _ = _upload(organisation.pk, content)
    print(
        f"same file again (all unchanged):      {again:7.2f} s  ({file_code}, unchanged {counts['unchanged']:,}, "
        f"peak {peak_again / 1024:.0f} MB)"
    )
    Plan.objects.filter(organisation=organisation).delete()
    # COPY again beside the browser path: on a shared machine the load drifts within a run.
    copy_second = _copy_seconds(copy_text)
    browser, file_code, counts, _, peak_browser, preview = _upload(organisation.pk, content, with_preview=True)
    print(
        f"browser path (preview, then apply):   {browser:7.2f} s  ({file_code}, created {counts['created']:,}, "
        f"preview {preview:.2f} s + apply {browser - preview:.2f} s, peak {peak_browser / 1024:.0f} MB)"
    )
    print(
        f"ratio browser path / COPY:            {browser / copy_second:7.2f}  (goal ≤ 4; COPY {copy_second:.2f} s "
        f"this time; the browser path is {browser / elapsed:.2f} times the upload end to end)"
    )
    Plan.objects.filter(organisation=organisation).delete()
    PlanUpload.objects.filter(organisation=organisation).delete()
    _rounds(organisation, content, copy_text, [(elapsed / copy_first, browser / copy_second)])
    _at_the_limit(organisation)
    print(f"load average at the end: {_load_average()} (compare ratios within a run, not times across runs)")


def _rounds(organisation, content: bytes, copy_text: bytes, ratios: list[tuple[float, float]]) -> None:
    """PLAN_UPLOAD_BENCH_ROUNDS (default 1) rounds of COPY, upload, COPY, browser path, each
    ratio to the COPY just before it, and their medians: on a shared machine one round's
    ratios swing with the load."""
    import os
    import statistics

    from plans.models import Plan, PlanUpload

    for _ in range(int(os.environ.get("PLAN_UPLOAD_BENCH_ROUNDS", "1")) - 1):
        copy = _copy_seconds(copy_text)
        upload = _upload(organisation.pk, content)[0]
        Plan.objects.filter(organisation=organisation).delete()
        copy_again = _copy_seconds(copy_text)
        browser = _upload(organisation.pk, content, with_preview=True)[0]
        Plan.objects.filter(organisation=organisation).delete()
        PlanUpload.objects.filter(organisation=organisation).delete()
        ratios.append((upload / copy, browser / copy_again))
        print(f"round {len(ratios)}: upload / COPY {ratios[-1][0]:.2f}, browser path / COPY {ratios[-1][1]:.2f}")
    if len(ratios) > 1:
        print(
            f"median of {len(ratios)} rounds: upload / COPY {statistics.median(r[0] for r in ratios):.2f} (goal ≤ 3), "
            f"browser path / COPY {statistics.median(r[1] for r in ratios):.2f} (goal ≤ 4)"
        )


def _load_average() -> str:
    import os

    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _at_the_limit(organisation) -> None:
    """A file of PLAN_UPLOAD_MAX_ROWS rows, the most one upload takes: time, ratio and peak memory."""
    from django.conf import settings
    from django.utils import timezone

    from plans.models import Plan, PlanUpload

    count = settings.PLAN_UPLOAD_MAX_ROWS
    rows = _rows(timezone.localdate(), count)
    content = _csv(rows)
    copy_seconds = _copy_seconds(_copy_text(rows, organisation.pk))
    del rows
    elapsed, file_code, counts, before_kib, peak_kib, _ = _upload(organisation.pk, content)
    print(
        f"at the limit, {count:,} rows ({len(content) / 1024 / 1024:.1f} MB): COPY {copy_seconds:.2f} s, "
        f"upload {elapsed:.2f} s ({file_code}, created {counts['created']:,}; ratio {elapsed / copy_seconds:.2f}), "
        f"peak {peak_kib / 1024:.0f} MB (+{(peak_kib - before_kib) / 1024:.0f} MB; goal < 300 MB)"
    )
    Plan.objects.filter(organisation=organisation).delete()
    PlanUpload.objects.filter(organisation=organisation).delete()
