"""The local PDS server (demo/pds/server.py) as a real process, for the identity tests."""

import json
import subprocess
import sys
from pathlib import Path

import httpx

from identity.keys import generate_key_pair

API_KEY = "test-api-key"
KEY_ID = "test-1"


class LocalPds:
    def __init__(self, directory: Path):
        self.private_key, self.public_key = generate_key_pair(directory, key_size=2048)
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "demo.pds.server", "--port", "0", "--public-key", str(self.public_key),
                "--api-key", API_KEY, "--key-id", KEY_ID,
            ],
            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
        )  # fmt: skip
        line = self.process.stdout.readline()
        if "listening on" not in line:
            self.process.kill()
            raise RuntimeError(f"the local PDS server did not start: {line!r}")
        self.url = line.split("listening on ")[1].split()[0]
        self.base_url = f"{self.url}/personal-demographics/FHIR/R4"
        self.token_url = f"{self.url}/oauth2/token"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def control(self, **changes) -> dict:
        return httpx.post(f"{self.url}/_control", json=changes, timeout=5).json()

    def stats(self) -> dict:
        return httpx.get(f"{self.url}/_control", timeout=5).json()

    def add(self, *patients: dict) -> None:
        httpx.post(f"{self.url}/_control/patients", json={"patients": list(patients)}, timeout=5).raise_for_status()

    def reset(self) -> None:
        self.control(outage=False, latency_ms=0, fail_after=None, auth="platform", reset_stats=True)
        httpx.delete(f"{self.url}/_control/patients", timeout=5).raise_for_status()

    def bearer(self) -> str:
        """An Authorization header's value carrying a token this server issued, got as the client gets one."""
        from identity.pds_client import PdsClient

        client = PdsClient(base_url=self.base_url, token_url=self.token_url, api_key=API_KEY,
                           private_key=self.private_key.read_text(), key_id=KEY_ID)  # fmt: skip
        try:
            return f"Bearer {client._access_token()}"
        finally:
            client.close()

    def configure(self, settings) -> None:
        """Points the Django settings at this server (pytest-django's `settings` fixture)."""
        from identity import service

        settings.IDENTITY_SERVICE = "pds"
        settings.PDS_BASE_URL = self.base_url
        settings.PDS_TOKEN_URL = self.token_url
        settings.PDS_API_KEY = API_KEY
        settings.PDS_PRIVATE_KEY_PATH = str(self.private_key)
        settings.PDS_KEY_ID = KEY_ID
        settings.PDS_TIMEOUT = 2.0
        settings.PDS_RETRIES = 2
        settings.PDS_RETRY_BASE_SECONDS = 0.05
        settings.PDS_CONCURRENCY = 4
        settings.PDS_RATE_LIMIT_PER_SECOND = 500.0
        service._pds_client.cache_clear()


def patient_for(row: dict, **overrides) -> dict:
    """The PDS patient that an upload row (tests/plans/helpers.py `row`) describes exactly."""
    patient = {
        "nhs_number": row["nhs_number"],
        "family": row["family_name"],
        "given": row["given_names"].split(),
        "birth_date": row["date_of_birth"],
        "gender": "female",
    }
    patient.update(overrides)
    return patient


def dumps(value) -> str:
    return json.dumps(value, sort_keys=True)
