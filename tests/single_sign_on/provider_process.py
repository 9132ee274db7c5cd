"""The real OpenID Connect provider (demo/single_sign_on/provider.mjs, npm `oidc-provider`) as a
separate process on a free port, and a person signing in at it (its own login form)."""

import json
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urljoin

import httpx

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "demo" / "single_sign_on" / "provider.mjs"
CLIENT_SECRET = "test-client-secret-0123456789"

# People at the provider: `sub` is their id. acr/amr are what their ID token asserts.
USERS = [
    {
        "id": "cis2-0001",
        "username": "smartcard",
        "password": "pw-smartcard",
        "email": "smartcard.user@example.nhs.uk",
        "name": "Smartcard User",
        "acr": "AAL3_ANY",
        "amr": ["hwk", "pin"],
    },
    {
        "id": "cis2-0002",
        "username": "password-only",
        "password": "pw-password-only",
        "email": "password.only@example.nhs.uk",
        "name": "Password Only",
        "acr": "AAL1_USERPASS",
        "amr": ["pwd"],
    },
    {
        "id": "cis2-0003",
        "username": "stranger",
        "password": "pw-stranger",
        "email": "stranger@example.org",
        "name": "Stranger",
        "acr": "AAL3_ANY",
        "amr": ["hwk"],
    },
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ProviderProcess:
    def __init__(self, *, redirect_uri: str, post_logout_redirect_uri: str, client_public_jwk: dict):
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        # Where the provider sends its back-channel logouts: our service, when a test runs one
        # there (nothing listens otherwise, and the provider only logs that it could not tell us).
        self.back_channel_port = free_port()
        back_channel = {
            "backchannel_logout_uri": f"http://127.0.0.1:{self.back_channel_port}/sign-in/organisation/back-channel-logout/",
            # Each ID token then carries the provider session's `sid`, as CIS2's do.
            "backchannel_logout_session_required": True,
        }
        self.config = {
            "controls": True,
            "issuers": [
                {
                    "name": "Test CIS2",
                    "port": self.port,
                    "users": USERS,
                    "clients": [
                        {
                            "client_id": client_id,
                            "client_secret": CLIENT_SECRET,
                            "token_endpoint_auth_method": "client_secret_basic",
                            "redirect_uris": [redirect_uri],
                            "post_logout_redirect_uris": [post_logout_redirect_uri],
                            **back_channel,
                        }
                        for client_id in ("cpis-test", "cpis-other")
                    ]
                    + [
                        {
                            "client_id": "cpis-signed",
                            "token_endpoint_auth_method": "private_key_jwt",
                            "jwks": {"keys": [client_public_jwk]},
                            "redirect_uris": [redirect_uri],
                            "post_logout_redirect_uris": [post_logout_redirect_uri],
                        }
                    ],
                }
            ],
        }
        self._config_file = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)  # noqa: SIM115
        json.dump(self.config, self._config_file)
        self._config_file.close()
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["node", str(SCRIPT), self._config_file.name],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the provider stopped: {self.process.stderr.read().decode()}")
            try:
                if httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the provider did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        """A new process makes a new signing key: the provider's keys are rotated."""
        self.stop()
        self.start()

    def control(self, what: str, **form) -> str:
        response = httpx.post(f"{self.issuer}/__control/{what}", data=form, timeout=30)
        response.raise_for_status()
        return response.text

    def logout_token(self, *, client: str = "cpis-test", **claims) -> str:
        """A logout token signed with the provider's key (`omit`/`nonce` make bad ones)."""
        return self.control("logout-token", client=client, **claims)

    def requests_for(self, path: str) -> int:
        """How often the provider was asked for `path` since it started."""
        return int(self.control("requests", path=path))

    def sign_in(self, authorization_url: str, *, username: str, password: str, redirect_uri: str) -> str:
        """Signs in at the provider's own form; returns the URL it sends the browser back to."""
        with httpx.Client(timeout=10, follow_redirects=False) as browser:
            response = browser.get(authorization_url)
            url = authorization_url
            for _ in range(10):
                if response.status_code in (302, 303):
                    url = urljoin(url, response.headers["location"])
                    if url.startswith(redirect_uri):
                        return url
                    response = browser.get(url)
                elif response.status_code == 200 and 'name="password"' in response.text:
                    url = urljoin(url, url.rstrip("/").split("?")[0] + "/login")
                    response = browser.post(url, data={"username": username, "password": password})
                else:
                    raise AssertionError(f"unexpected answer from the provider: {response.status_code}")
        raise AssertionError("the provider never sent the browser back")
