"""A local MESH server (NHSDigital's mesh-sandbox) with the mailboxes we choose, for `make run`
and the tests.

mesh-sandbox reads its mailboxes and workflows from jsonl files inside its own package, at a
fixed path. Rather than edit the installed package, we copy it into the run's directory, write
our mailboxes there, and put the copy first on PYTHONPATH: the installed one stays untouched
and two sandboxes (the demo and a test session) never share mailboxes or a store.

    python -m demo.mesh.sandbox --port 8791 --dir var/mesh X26CPIS LA001MB LA002MB

It runs in its own virtualenv (`.venv-mesh`, from requirements-mesh-sandbox.txt): it pins an
older gunicorn than the service does.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent
SANDBOX_VENV = BASE_DIR / ".venv-mesh"
PASSWORD = "password"
SHARED_KEY = "SandboxKey"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _installed_package(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python*/site-packages/mesh_sandbox"))
    if not found:
        raise RuntimeError(f"mesh-sandbox is not installed in {venv}: run `make install`.")
    return found[0]


@dataclass
class Sandbox:
    """One mesh-sandbox process on 127.0.0.1, its store and package copy under `directory`."""

    directory: Path
    mailboxes: list[str]
    port: int = 0
    shared_key: str = SHARED_KEY
    venv: Path = SANDBOX_VENV
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def prepare(self) -> None:
        """Copies the package and writes our mailboxes (every one may send to every other)."""
        package = self.directory / "package" / "mesh_sandbox"
        if not package.exists():
            shutil.copytree(_installed_package(self.venv), package, ignore=shutil.ignore_patterns("__pycache__"))
        data = package / "store" / "data"
        with (data / "mailboxes.jsonl").open("w", encoding="utf-8") as out:
            for mailbox in self.mailboxes:
                ods = mailbox[:5]
                row = {"mailbox_id": mailbox, "mailbox_name": mailbox, "billing_entity": "England"}
                out.write(json.dumps({**row, "ods_code": ods, "org_code": ods, "password": PASSWORD}) + "\n")
        (data / "workflows.jsonl").write_text("", encoding="utf-8")
        # The packaged canned messages belong to the packaged mailboxes, not ours.
        shutil.rmtree(data / "mailboxes", ignore_errors=True)
        (self.directory / "store").mkdir(parents=True, exist_ok=True)

    def start(self, *, wait: float = 30.0) -> None:
        self.prepare()
        if not self.port:
            self.port = free_port()
        environ = {
            **os.environ,
            "PYTHONPATH": str(self.directory / "package"),
            "STORE_MODE": "file",
            "MAILBOXES_DATA_DIR": str(self.directory / "store"),
            "SHARED_KEY": self.shared_key,
            "AUTH_MODE": "full",
        }
        log = (self.directory / "sandbox.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own command line
            [str(self.venv / "bin" / "uvicorn"), "mesh_sandbox.api:app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning"],
            env=environ, stdout=log, stderr=subprocess.STDOUT, cwd=self.directory,
        )  # fmt: skip
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mesh-sandbox exited; see {self.directory / 'sandbox.log'}")
            try:
                ping = f"{self.url}/messageexchange/_ping"
                with urllib.request.urlopen(ping, timeout=1) as response:  # noqa: S310 - our own local server
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"mesh-sandbox did not answer on {self.url} within {wait} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--dir", default=str(BASE_DIR / "var" / "mesh"))
    parser.add_argument("mailboxes", nargs="+")
    arguments = parser.parse_args()
    sandbox = Sandbox(directory=Path(arguments.dir), mailboxes=arguments.mailboxes, port=arguments.port)
    sandbox.start()
    print(f"mesh-sandbox on {sandbox.url} (shared key {sandbox.shared_key!r}, passwords {PASSWORD!r})", flush=True)

    def stop(*_: object) -> None:
        sandbox.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    assert sandbox.process is not None
    sandbox.process.wait()


if __name__ == "__main__":
    main()
