"""A local HTTP server speaking GOV.UK Notify's API, for the e-mail backend's tests.

It checks what Notify checks of `POST /v2/notifications/email`: a bearer JWT signed (HS256) with
the API key's secret part, its `iss` the key's service id and its `iat` within 30 seconds; a JSON
body with `email_address` and `template_id`. It answers 201 with Notify's response shape, or
Notify's error shape (403 for a bad token, 400 for a bad body, or `status` when set)."""

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

SERVICE_ID = "26785a09-ab16-4eb0-8407-a37497a57506"
SECRET = "3c5f9b1e-8d2a-4f6b-9c7e-1a2b3c4d5e6f"  # pragma: allowlist secret
# Notify's key format: the key's name, the service id, the secret.
API_KEY = f"cpis_tests-{SERVICE_ID}-{SECRET}"


@dataclass
class NotifyServer:
    status: int | None = None  # settable while running: answer every request with this error
    requests: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> "NotifyServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # noqa: ARG002 - quiet test output
                pass

            def _answer(self, status: int, body: dict) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _error(self, status: int, error: str, message: str) -> None:
                self._answer(status, {"status_code": status, "errors": [{"error": error, "message": message}]})

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                scheme, _, token = self.headers.get("Authorization", "").partition(" ")
                try:
                    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_iat": False})
                    signed = scheme == "Bearer" and claims.get("iss") == SERVICE_ID
                    signed = signed and abs(time.time() - claims["iat"]) <= 30
                except (jwt.InvalidTokenError, KeyError, TypeError):
                    signed = False
                body = json.loads(raw or b"null")
                with server.lock:
                    server.requests.append({"path": self.path, "signed": signed, "body": body})
                    status = server.status
                if self.path != "/v2/notifications/email":
                    return self._error(404, "NotFound", "Not Found")
                if not signed:
                    return self._error(403, "AuthError", "Invalid token: signature, api token not found")
                if status is not None:
                    return self._error(status, "Exception", "Internal server error")
                if not isinstance(body, dict) or not body.get("email_address") or not body.get("template_id"):
                    return self._error(400, "ValidationError", "email_address is a required property")
                notification_id = str(uuid.uuid4())
                personalisation = body.get("personalisation") or {}
                self._answer(
                    201,
                    {
                        "id": notification_id,
                        "reference": body.get("reference"),
                        "content": {
                            "subject": personalisation.get("subject", ""),
                            "body": personalisation.get("body", ""),
                            "from_email": "cpis@notifications.service.gov.uk",
                            "one_click_unsubscribe_url": None,
                        },
                        "uri": f"{server.url}/v2/notifications/{notification_id}",
                        "template": {
                            "id": body["template_id"],
                            "version": 1,
                            "uri": f"{server.url}/v2/template/{body['template_id']}",
                        },
                        "scheduled_for": None,
                    },
                )

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
