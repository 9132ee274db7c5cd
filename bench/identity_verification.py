"""Identity verification's throughput: a 100,000-row upload verified against the local PDS
server (demo/pds/server.py, a real process) with a fixed per-request latency, beside the
same upload without verification, measured in the same run (issue 17).

Run: DATABASE_URL=postgres://root@127.0.0.1:5432/cpis_identity_bench python -m bench identity_verification
Knobs (environment): IDENTITY_BENCH_ROWS (100000), IDENTITY_BENCH_LATENCY_MS (20),
PDS_CONCURRENCY (8 here), PDS_RATE_LIMIT_PER_SECOND (1000 here: the limit a production key
would have is the real ceiling; this measures what CP-IS itself can do).
"""

import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from django.conf import settings
from django.db import connection

from bench import plan_upload
from bench._database import database_ensure

ROWS = int(os.environ.get("IDENTITY_BENCH_ROWS", "100000"))
LATENCY_MS = int(os.environ.get("IDENTITY_BENCH_LATENCY_MS", "20"))
CONCURRENCY = int(os.environ.get("PDS_CONCURRENCY", "8"))
RATE = float(os.environ.get("PDS_RATE_LIMIT_PER_SECOND", "1000"))


def _server(directory: Path, patients: Path) -> tuple[subprocess.Popen, str]:
    from identity.keys import generate_key_pair

    _, public = generate_key_pair(directory, key_size=2048)
    process = subprocess.Popen(  # noqa: S603 - our own command line
        [sys.executable, "-m", "demo.pds.server", "--port", "0", "--public-key", str(public),
         "--api-key", "bench-api-key", "--patients", str(patients)],
        stdout=subprocess.PIPE, text=True, cwd=settings.BASE_DIR,
    )  # fmt: skip
    line = process.stdout.readline()
    return process, line.split("listening on ")[1].split()[0]


def _import(organisation, content: bytes) -> tuple[float, object]:
    from plans.uploads import plan_upload_import

    started = time.perf_counter()
    upload = plan_upload_import(
        organisation=organisation, filename="bench.csv", file=io.BytesIO(content), dry_run=False
    )
    return time.perf_counter() - started, upload


def run() -> None:
    if connection.vendor != "postgresql":
        print("skipped: the identity benchmark needs PostgreSQL (set DATABASE_URL)")
        return
    database_ensure(connection.settings_dict, connection.settings_dict["NAME"])
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.utils import timezone

    from accounts.models import Organisation, OrganisationKind
    from identity import service
    from plans.models import Plan, PlanUpload

    plan_upload.ROWS = ROWS
    rows = plan_upload._rows(timezone.localdate())
    content = plan_upload._csv(rows)
    organisation, _ = Organisation.objects.get_or_create(
        ods_code="BENCH02",
        defaults={"name": "Identity Bench Council", "kind": OrganisationKind.LOCAL_AUTHORITY,
                  "emergency_duty_phone": "0113 496 0999"},
    )  # fmt: skip

    def reset() -> None:
        Plan.objects.filter(organisation=organisation).delete()
        PlanUpload.objects.filter(organisation=organisation).delete()

    reset()
    settings.IDENTITY_SERVICE = "none"
    plain, upload = _import(organisation, content)
    print(f"file: {ROWS:,} rows; PDS latency {LATENCY_MS} ms a request, {CONCURRENCY} in flight, ≤ {RATE:g}/s")
    print(f"upload without verification:         {plain:8.2f} s  ({upload.file_code}, {ROWS / plain:8.0f} rows/s)")
    reset()

    with tempfile.TemporaryDirectory() as directory:
        patients = Path(directory) / "patients.json"
        patients.write_text(json.dumps({"patients": [
            {"nhs_number": r[0], "family": r[1], "given": r[2].split(), "birth_date": r[3]} for r in rows
        ]}))  # fmt: skip
        process, url = _server(Path(directory), patients)
        try:
            httpx.post(f"{url}/_control", json={"latency_ms": LATENCY_MS, "reset_stats": True})
            settings.IDENTITY_SERVICE = "pds"
            settings.PDS_BASE_URL = f"{url}/personal-demographics/FHIR/R4"
            settings.PDS_TOKEN_URL = f"{url}/oauth2/token"
            settings.PDS_API_KEY = "bench-api-key"
            settings.PDS_PRIVATE_KEY_PATH = str(Path(directory) / "private.pem")
            settings.PDS_KEY_ID = ""
            settings.PDS_CONCURRENCY = CONCURRENCY
            settings.PDS_RATE_LIMIT_PER_SECOND = RATE
            service._pds_client.cache_clear()
            verified, upload = _import(organisation, content)
            stats = httpx.get(f"{url}/_control").json()
        finally:
            process.terminate()
            process.wait(10)
    identity = upload.counts.get("identity", {})
    print(
        f"upload verified against PDS:          {verified:8.2f} s  ({upload.file_code}, {ROWS / verified:8.0f} rows/s; "
        f"{identity.get('matched', 0):,} of {identity.get('checked', 0):,} verified)"
    )
    print(
        f"PDS lookups:                          {stats['patient_requests']:8,}  "
        f"({stats['patient_requests'] / verified:.0f}/s, at most {stats['max_in_flight']} in flight; "
        f"one lookup per distinct NHS number)"
    )
    print(f"ratio verified / unverified:          {verified / plain:8.2f}")
    settings.IDENTITY_SERVICE = "none"
    reset()
