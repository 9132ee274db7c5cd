"""A local PDS FHIR R4 server for the demo, the tests and the benchmark: a real HTTP process.

    python -m demo.pds.server --port 9100 --public-key var/pds/public.pem --api-key local-api-key

It plays NHS England's PDS sandbox for `GET /Patient/{nhs-number}` (the sandbox's own test
patients and answers, below) behind the platform's signed-JWT authentication:
- `POST /oauth2/token`: a client-credentials grant whose `client_assertion` is a JWT signed
  RS512 with the key whose public half is `--public-key`; `iss` = `sub` = `--api-key`, `aud` =
  this endpoint's URL, a `jti` never used before, `exp` at most five minutes ahead. Answers
  `{"access_token", "expires_in", "token_type": "Bearer", "issued_at"}`.
- `GET /personal-demographics/FHIR/R4/Patient/{nhs-number}`, checked in the sandbox's order
  (NHSDigital/personal-demographics-service-api, karate-tests/src/test/java/mocks/sandbox/):
  no `X-Request-ID` is 400 `MISSING_VALUE`, one that is not a UUID 400 `INVALID_VALUE`; then the
  `Authorization` header, 401 `ACCESS_DENIED`; then the number, 400 `INVALID_RESOURCE_ID`; then
  the patient, 404 `RESOURCE_NOT_FOUND` or 200 with the Patient and `ETag: W/"<versionId>"`.
  Every answer is `application/fhir+json` and mirrors `X-Request-ID` and `X-Correlation-ID`.
  `--auth platform` (the default) wants a token this server issued, as the platform does;
  `--auth sandbox` wants none, as the sandbox does (a header, if sent, must look like a token).

Patients: the sandbox's, verbatim (demo/pds/fixtures/sandbox/, among them 9000000009 Jane Smith
and 9000000025 Janet Smythe, restricted, both deceased, and 9000000033 with almost no data);
then the project's own cases on numbers the sandbox does not use (demo/pds/fixtures/patients.json:
a superseded number answered with its replacement's record, 404 `INVALIDATED_RESOURCE`, a slow
answer, a 503, a body that is not a Patient), `--patients FILE` (same format), and any added
while it runs. Control endpoints (not part of PDS; for tests and demos):
- `GET /_control`: the switches and request counts;
- `POST /_control` with JSON `{"outage": bool, "latency_ms": n, "fail_after": n, "auth":
  "platform" | "sandbox", "reset_stats": true}`: an outage answers every Patient read with 503;
  `fail_after` lets n more reads through, then starts an outage; `latency_ms` delays every read;
- `POST /_control/patients` with `{"patients": [...]}` adds or replaces patients;
  `DELETE /_control/patients` goes back to the files.
"""

import argparse
import json
import re
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import jwt

from core.nhs_numbers import nhs_number_is_valid

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SANDBOX_PATIENTS = FIXTURES / "sandbox"
PATIENT_PATH = re.compile(r"^/personal-demographics/FHIR/R4/Patient/([^/?]+)$")
TOKEN_PATH = "/oauth2/token"
TOKEN_LIFETIME = 599
_SPINE_CODES = "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode"
_SECURITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# What the sandbox takes for an access token (`isValidAuthToken`): letters and digits, both.
_TOKEN_SHAPE = re.compile(r"^(?=.*[a-zA-Z])(?=.*\d)[a-zA-Z0-9]+(_[a-zA-Z0-9]+)?$")
AUTH_MODES = ("platform", "sandbox")


def patient_resource(patient: dict) -> dict:
    """A project patient as a Patient shaped like the sandbox's (patient_9000000009.json,
    patient_9000000025.json); a sandbox patient is its own resource, as the sandbox serves it."""
    if "resource" in patient:
        return patient["resource"]
    number = patient["nhs_number"]
    sensitive = bool(patient.get("sensitive"))
    resource = {
        "resourceType": "Patient",
        "id": number,
        "identifier": [
            {
                "extension": [
                    {
                        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "code": "01",
                                    "display": "Number present and verified",
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus",
                                    "version": "1.0.0",
                                }
                            ]
                        },
                    }
                ],
                "system": "https://fhir.nhs.uk/Id/nhs-number",
                "value": number,
            }
        ],
        "meta": {
            "security": [
                {"code": "R", "display": "restricted", "system": _SECURITY}
                if sensitive
                else {"code": "U", "display": "unrestricted", "system": _SECURITY}
            ],
            "versionId": str(patient.get("version", 2)),
        },
        "name": [
            {
                "id": "123",
                "use": "usual",
                "period": {"start": patient.get("birth_date", "2010-01-01")},
                "given": list(patient.get("given", [])),
                "family": patient.get("family", ""),
            }
        ],
        "gender": patient.get("gender", "unknown"),
        "birthDate": patient.get("birth_date", ""),
        "multipleBirthInteger": 1,
    }
    if patient.get("deceased"):
        resource["deceasedDateTime"] = f"{patient['deceased']}T00:00:00+00:00"
    if not sensitive:
        # An unrestricted record carries an address and a GP, as the sandbox's does; CP-IS
        # never reads them. A restricted (S-flagged) one carries neither.
        resource["address"] = [
            {
                "id": "456",
                "use": "home",
                "period": {"start": "2020-01-01"},
                "line": ["1 Trevelyan Square", "Boar Lane", "City Centre", "Leeds", "West Yorkshire"],
                "postalCode": "LS1 6AE",
            }
        ]
        resource["generalPractitioner"] = [
            {
                "id": "254406A3",
                "type": "Organization",
                "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "Y12345"},
            }
        ]
    return resource


def operation_outcome(
    code: str, display: str, issue_code: str, diagnostics: str = "", *, severity: str = "error"
) -> dict:
    """An OperationOutcome as the sandbox's errorResponses/ stubs write one."""
    issue = {
        "severity": severity,
        "code": issue_code,
        "details": {"coding": [{"system": _SPINE_CODES, "version": "1", "code": code, "display": display}]},
    }
    if diagnostics:
        issue["diagnostics"] = diagnostics
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def sandbox_patients() -> dict[str, dict]:
    """The sandbox's retrieve patients (its stubs.js `session.patients`), served verbatim."""
    patients = {}
    for path in sorted(SANDBOX_PATIENTS.glob("patient_*.json")):
        resource = json.loads(path.read_text())
        patients[resource["id"]] = {"nhs_number": resource["id"], "resource": resource}
    return patients


class PdsState:
    def __init__(
        self, *, api_key: str, public_key: str, key_id: str, patient_files: Sequence[Path], auth: str = "platform"
    ):
        if auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {AUTH_MODES}")
        self.auth = auth
        self.api_key = api_key
        self.public_key = public_key
        self.key_id = key_id
        self.patient_files = patient_files
        self.lock = threading.Lock()
        self.tokens: dict[str, float] = {}
        self.used_jtis: set[str] = set()
        self.outage = False
        self.latency_ms = 0
        self.fail_after: int | None = None
        self.stats = {"patient_requests": 0, "token_requests": 0, "in_flight": 0, "max_in_flight": 0}
        self.patients: dict[str, dict] = {}
        self.reload()

    def reload(self) -> None:
        patients = sandbox_patients()
        for path in [FIXTURES / "patients.json", *self.patient_files]:
            for patient in json.loads(path.read_text())["patients"]:
                patients[patient["nhs_number"]] = patient
        with self.lock:
            self.patients = patients

    def control(self) -> dict:
        return {
            "outage": self.outage,
            "latency_ms": self.latency_ms,
            "fail_after": self.fail_after,
            "auth": self.auth,
            "patients": len(self.patients),
            **self.stats,
        }


class Handler(BaseHTTPRequestHandler):
    server_version = "cpis-local-pds/1"
    protocol_version = "HTTP/1.1"  # keep-alive, as the platform offers
    state: PdsState

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        # Request lines carry NHS numbers; this server logs nothing about requests.
        return

    # --- plumbing ---------------------------------------------------------------------------

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: dict, *, content_type: str = "application/fhir+json", headers=None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    # --- routes -----------------------------------------------------------------------------

    def do_GET(self):  # noqa: N802 - the base class's name
        if self.path == "/_control":
            return self._send(200, self.state.control(), content_type="application/json")
        match = PATIENT_PATH.match(self.path)
        if match:
            return self._patient(match.group(1))
        return self._send(404, operation_outcome("INVALID_VALUE", "Unsupported path", "not-supported"))

    def do_POST(self):  # noqa: N802
        body = self._body()
        if self.path == TOKEN_PATH:
            return self._token(body)
        if self.path == "/_control":
            return self._control(json.loads(body or b"{}"))
        if self.path == "/_control/patients":
            added = json.loads(body)["patients"]
            with self.state.lock:
                for patient in added:
                    self.state.patients[patient["nhs_number"]] = patient
            return self._send(200, self.state.control(), content_type="application/json")
        return self._send(404, operation_outcome("INVALID_VALUE", "Unsupported path", "not-supported"))

    def do_DELETE(self):  # noqa: N802
        if self.path == "/_control/patients":
            self.state.reload()
            return self._send(200, self.state.control(), content_type="application/json")
        return self._send(404, operation_outcome("INVALID_VALUE", "Unsupported path", "not-supported"))

    def _control(self, changes: dict) -> None:
        state = self.state
        with state.lock:
            if "outage" in changes:
                state.outage = bool(changes["outage"])
            if "latency_ms" in changes:
                state.latency_ms = int(changes["latency_ms"])
            if "fail_after" in changes:
                state.fail_after = None if changes["fail_after"] is None else int(changes["fail_after"])
            if changes.get("auth") in AUTH_MODES:
                state.auth = changes["auth"]
            if changes.get("reset_stats"):
                state.stats.update(patient_requests=0, token_requests=0, max_in_flight=0)
        self._send(200, state.control(), content_type="application/json")

    def _token_error(self, description: str) -> None:
        self._send(400, {"error": "invalid_request", "error_description": description}, content_type="application/json")

    def _token(self, body: bytes) -> None:
        state = self.state
        with state.lock:
            state.stats["token_requests"] += 1
        form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
        if form.get("grant_type") != "client_credentials":
            return self._token_error("grant_type is missing or not client_credentials")
        if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return self._token_error("Missing or invalid client_assertion_type")
        assertion = form.get("client_assertion", "")
        audience = f"http://{self.headers.get('Host', '')}{TOKEN_PATH}"
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(
                assertion,
                state.public_key,
                algorithms=["RS512"],
                audience=audience,
                options={"require": ["iss", "sub", "aud", "jti", "exp"]},
            )
        except jwt.PyJWTError as error:
            return self._token_error(f"Invalid client_assertion: {type(error).__name__}")
        if state.key_id and header.get("kid") != state.key_id:
            return self._token_error("Invalid 'kid' header in client_assertion JWT - no matching public key")
        if claims["iss"] != state.api_key or claims["sub"] != state.api_key:
            return self._token_error("Invalid iss/sub claims in JWT")
        if claims["exp"] > time.time() + 300 + 5:
            return self._token_error("Invalid exp claim in JWT - more than 5 minutes in future")
        with state.lock:
            if claims["jti"] in state.used_jtis:
                return self._token_error("Non-unique jti claim in JWT")
            state.used_jtis.add(claims["jti"])
            token = uuid.uuid4().hex
            state.tokens[token] = time.time() + TOKEN_LIFETIME
        self._send(
            200,
            {
                "access_token": token,
                "expires_in": str(TOKEN_LIFETIME),
                "token_type": "Bearer",
                "issued_at": str(int(time.time() * 1000)),
            },
            content_type="application/json",
        )

    def _patient(self, nhs_number: str) -> None:
        state = self.state
        with state.lock:
            state.stats["patient_requests"] += 1
            state.stats["in_flight"] += 1
            state.stats["max_in_flight"] = max(state.stats["max_in_flight"], state.stats["in_flight"])
            if state.fail_after is not None:
                if state.fail_after <= 0:
                    state.outage, state.fail_after = True, None
                else:
                    state.fail_after -= 1
            outage, latency = state.outage, state.latency_ms
            patient = state.patients.get(nhs_number)
        try:
            self._patient_answer(nhs_number, patient, outage=outage, latency=latency)
        finally:
            with state.lock:
                state.stats["in_flight"] -= 1

    def _patient_answer(self, nhs_number: str, patient: dict | None, *, outage: bool, latency: int) -> None:
        """The sandbox's checks in its order (get-patient-retrieve.js), after the project's
        outage and latency switches; then the project's cases, then the patient."""
        state = self.state
        request_id = self.headers.get("X-Request-ID")
        # As the sandbox's basicResponseHeaders: on every answer, errors included.
        echo = {}
        if request_id:
            echo["X-Request-ID"] = request_id
        if self.headers.get("X-Correlation-ID"):
            echo["X-Correlation-ID"] = self.headers["X-Correlation-ID"]
        if latency:
            time.sleep(latency / 1000)
        if outage:
            return self._send(
                503, operation_outcome("SERVICE_UNAVAILABLE", "Service unavailable", "exception"), headers=echo
            )
        if not request_id:
            return self._send(
                400,
                operation_outcome(
                    "MISSING_VALUE",
                    "Required value is missing",
                    "required",
                    "Invalid request with error - X-Request-ID header must be supplied to access this resource",
                ),
                headers=echo,
            )
        if not _UUID.match(request_id):
            return self._send(
                400,
                operation_outcome(
                    "INVALID_VALUE",
                    "Provided value is invalid",
                    "value",
                    f"Invalid value - '{request_id}' in header 'X-Request-ID'",
                ),
                headers=echo,
            )
        refusal = self._authorization_refusal()
        if refusal:
            return self._send(
                401,
                operation_outcome("ACCESS_DENIED", "Access Denied - Unauthorised", "forbidden", refusal),
                headers=echo,
            )
        if not nhs_number_is_valid(nhs_number):
            return self._send(
                400, operation_outcome("INVALID_RESOURCE_ID", "Resource Id is invalid", "value"), headers=echo
            )
        if patient and patient.get("delay_seconds"):
            time.sleep(float(patient["delay_seconds"]))
        if patient and patient.get("malformed"):
            # A gateway's error page where a Patient should be: the client must not read it as one.
            body = b"<html><body>Bad gateway</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return None
        if patient and patient.get("fail_status"):
            status = int(patient["fail_status"])
            return self._send(
                status, operation_outcome("SERVICE_UNAVAILABLE", "Service unavailable", "exception"), headers=echo
            )
        if patient and patient.get("invalidated"):
            # The sandbox has no such patient; the body is its errorResponses/INVALIDATED_RESOURCE.json.
            return self._send(
                404, operation_outcome("INVALIDATED_RESOURCE", "Resource that has been marked as invalid was requested - invalid resources cannot be retrieved", "processing"),
                headers=echo,
            )  # fmt: skip
        if patient and patient.get("superseded_by"):
            with state.lock:
                patient = state.patients.get(patient["superseded_by"])
        if patient is None or not ("resource" in patient or "family" in patient):
            return self._send(
                404,
                operation_outcome("RESOURCE_NOT_FOUND", "Resource not found", "not-found", severity="information"),
                headers=echo,
            )
        resource = patient_resource(patient)
        self._send(200, resource, headers={**echo, "ETag": f'W/"{resource["meta"]["versionId"]}"'})

    def _authorization_refusal(self) -> str:
        """Why the Authorization header is refused (the 401's diagnostics), or "" if it is not.
        The sandbox's wording (validateAuthHeader) in both modes."""
        authorization = self.headers.get("Authorization")
        if authorization is None and self.state.auth == "sandbox":
            return ""  # the sandbox needs no token
        parts = (authorization or "").split(" ")
        if len(parts) != 2 or parts[0] != "Bearer":
            return "Missing access token"
        if self.state.auth == "sandbox":
            return "" if _TOKEN_SHAPE.match(parts[1]) else "Invalid Access Token"
        with self.state.lock:
            expires = self.state.tokens.get(parts[1], 0)
        return "" if expires >= time.time() else "Invalid Access Token"


def make_server(
    *,
    host: str,
    port: int,
    api_key: str,
    public_key: str,
    key_id: str = "",
    patient_files: Sequence[Path] = (),
    auth: str = "platform",
) -> ThreadingHTTPServer:
    state = PdsState(
        api_key=api_key, public_key=public_key, key_id=key_id, patient_files=list(patient_files), auth=auth
    )
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local PDS FHIR R4 server (see the module's docstring).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--api-key", default="local-api-key", help="The API key (the JWT's iss and sub).")
    parser.add_argument("--public-key", required=True, help="PEM file: the public half of the client's signing key.")
    parser.add_argument("--key-id", default="", help="The `kid` the client's JWTs must carry (any, if empty).")
    parser.add_argument("--patients", action="append", default=[], help="More patients (JSON, as the fixtures).")
    parser.add_argument(
        "--auth", choices=AUTH_MODES, default="platform", help="platform: a token from /oauth2/token; sandbox: none."
    )
    args = parser.parse_args(argv)
    server = make_server(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        public_key=Path(args.public_key).read_text(),
        key_id=args.key_id,
        patient_files=[Path(p) for p in args.patients],
        auth=args.auth,
    )
    print(f"Local PDS listening on http://{args.host}:{server.server_address[1]} ({datetime.now(UTC):%H:%M:%S})")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
