"""Local mail servers for the e-mail tests: a real SMTP server (aiosmtpd, which enforces SMTP's
line limit as a standard server does), and one that accepts the connection and never answers."""

import socket
import threading
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller

from tests.notifications.worker import free_port


@dataclass
class SmtpSink:
    """An SMTP server on a free port that keeps every message it accepts (raw bytes)."""

    messages: list[bytes] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)

    def start(self) -> "SmtpSink":
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                sink.messages.append(envelope.original_content or envelope.content)
                return "250 Message accepted for delivery"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


class SilentMailServer:
    """Accepts TCP connections and never says a word (no greeting, no replies): what a mail
    relay stuck behind a full queue or a broken firewall looks like to its client."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._stopped = threading.Event()

    def start(self) -> "SilentMailServer":
        def accept() -> None:
            self.listener.settimeout(0.2)
            while not self._stopped.is_set():
                try:
                    connection, _ = self.listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                self.connections.append(connection)

        threading.Thread(target=accept, name="silent-mail-server", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        for connection in self.connections:
            connection.close()
        self.listener.close()
