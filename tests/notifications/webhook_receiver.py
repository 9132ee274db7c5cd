"""A local HTTPS server standing in for an LA's case-management system, for webhook tests.

It listens on RECEIVER_HOST, the one loopback address the test settings let outbound requests
reach, with a certificate from the run's own authority (tests/tls.py)."""

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from notifications.webhooks import webhook_verify
from tests.tls import RECEIVER_HOST, https_server


@dataclass
class Received:
    delivery_id: str
    timestamp: str
    signature: str
    body: bytes
    valid: bool
    status: int = 0


@dataclass
class WebhookReceiver:
    """Records every request; answers `status` (settable while running) after `delay` seconds."""

    secret: str
    status: int = 200
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> "WebhookReceiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                record = Received(
                    delivery_id=self.headers.get("X-CPIS-Delivery", ""),
                    timestamp=self.headers.get("X-CPIS-Timestamp", ""),
                    signature=self.headers.get("X-CPIS-Signature", ""),
                    body=body,
                    valid=webhook_verify(
                        secret=receiver.secret,
                        timestamp=self.headers.get("X-CPIS-Timestamp", ""),
                        signature=self.headers.get("X-CPIS-Signature", ""),
                        body=body,
                    ),
                )
                with receiver.lock:
                    record.status = status = receiver.status if record.valid else 401
                    receiver.requests.append(record)
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = https_server(RECEIVER_HOST, Handler)
        self.url = f"https://{RECEIVER_HOST}:{self.server.server_address[1]}/cpis"
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def accepted_ids(self) -> list[str]:
        """Delivery ids the receiver accepted (valid signature, answered 2xx), repeats included."""
        with self.lock:
            return [r.delivery_id for r in self.requests if r.valid and 200 <= r.status < 300]
