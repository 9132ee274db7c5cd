"""The one way the service talks to MESH: mesh-client's MeshClient, built from settings.

Credentials come from the environment or from files named there (a mounted secret), read when
a client is made, so a rotated secret needs no restart. They are never logged: an error is
reported by its class and HTTP status only.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from mesh_client import MeshClient

# mesh-client retries 5xx itself; we retry whole polls and sends with our own back-off instead,
# so one outage does not hold a worker for minutes.
_CLIENT_RETRIES = 1


class MeshNotConfigured(Exception):
    pass


def _secret(value: str, path: str) -> str:
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return value


def mesh_enabled() -> bool:
    return bool(settings.MESH_URL and settings.MESH_MAILBOX_ID)


@contextmanager
def mesh_client(
    *, mailbox_id: str | None = None, password: str | None = None, shared_key: str | None = None
) -> Iterator[MeshClient]:
    """A MeshClient for our mailbox (or, for the demo's `mesh_send --as`, another's)."""
    if not settings.MESH_URL:
        raise MeshNotConfigured("MESH_URL is not set")
    mailbox = mailbox_id or settings.MESH_MAILBOX_ID
    if not mailbox:
        raise MeshNotConfigured("MESH_MAILBOX_ID is not set")
    key = shared_key if shared_key is not None else _secret(settings.MESH_SHARED_KEY, settings.MESH_SHARED_KEY_FILE)
    cert: tuple[str, str] | None = None
    if settings.MESH_CLIENT_CERT and settings.MESH_CLIENT_KEY:
        cert = (settings.MESH_CLIENT_CERT, settings.MESH_CLIENT_KEY)
    client = MeshClient(
        settings.MESH_URL,
        mailbox,
        password if password is not None else _secret(settings.MESH_PASSWORD, settings.MESH_PASSWORD_FILE),
        shared_key=key.encode() if key else None,
        cert=cert,
        verify=settings.MESH_CA_BUNDLE or None,
        max_chunk_size=settings.MESH_MAX_CHUNK_SIZE,
        max_retries=_CLIENT_RETRIES,
        timeout=settings.MESH_TIMEOUT,
    )
    try:
        yield client
    finally:
        client.close()


def mesh_error_summary(error: BaseException) -> str:
    """What we record of a failure: its class and HTTP status, never its text (it can quote a
    header, and the request's Authorization header carries the mailbox's HMAC)."""
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    return f"{type(error).__name__}" + (f" (HTTP {status})" if status else "")
