"""The hook through which identity verification (identity/uploads.py) takes part in an upload.

`plans` sits below `identity` (docs/adr/ADR-010-layout.md), so the pipeline never imports it:
the identity app registers its `UploadVerification` here when Django starts
(`IdentityConfig.ready`), and the steps ask `upload_verification()` for it. Nothing registered,
or a registered one that is switched off (`IDENTITY_SERVICE=none`), means rows are checked by
the plan rules alone.
"""

import logging
from collections.abc import Callable
from typing import Any, Protocol

from celery import Task
from django.conf import settings

from plans.upload_rows import Rejection, ValidRow
from plans.uploads.progress import _progress_set

logger = logging.getLogger(__name__)


class VerificationUnavailable(Exception):
    """The national service cannot answer now; the upload is held (CPF05), never guessed at."""


class RowVerifier(Protocol):
    """Answers each row of one upload from the answers looked up before the pipeline ran."""

    def check(self, row: ValidRow) -> Rejection | None:
        """The row's rejection by the national service, or None when it verified the child."""

    def recode(self, rejection: Rejection, header: list[str]) -> Rejection:
        """A plan rule's rejection as the national service codes it (an old-style number)."""

    def summary(self) -> dict[str, Any]:
        """What the upload's counts keep: rows checked, matched, and each code's count."""


class UploadVerification(Protocol):
    def enabled(self) -> bool:
        """Whether uploads are verified at all (the deployment's setting)."""

    def lookups(
        self, *, upload_id: int, content: bytes, limit: int | None, progress: Callable[[int, int], None]
    ) -> bool:
        """Looks up the file's children not yet asked about, at most `limit`; True when every one
        has an answer. Raises VerificationUnavailable."""

    def hold(self, *, upload_id: int, content: bytes | None = None) -> bool:
        """Holds the upload (CPF05) until the service answers; `content` keeps an unstored file."""

    def row_verifier(self, *, upload_id: int) -> RowVerifier:
        """The verifier of one upload's rows, from its saved answers."""

    def record_verified(self, *, upload_id: int, verifier: RowVerifier) -> None:
        """Inside the apply's transaction: keeps what was verified and forgets the answers."""

    def forget(self, *, upload_id: int) -> None:
        """Forgets an upload's answers (they hold personal data) once it will not be applied."""


_registered: list[UploadVerification] = []


def upload_verification_register(verification: UploadVerification) -> None:
    """Called from the verifying app's `ready()`; a second registration replaces the first."""
    _registered[:] = [verification]


def upload_verification() -> UploadVerification | None:
    """The registered verification when it is switched on, else None."""
    if _registered and _registered[0].enabled():
        return _registered[0]
    return None


def _identity_lookups(
    *,
    verification: UploadVerification,
    upload_id: int,
    content: bytes,
    task: Task[[int], None],
    in_worker: bool,
) -> bool:
    """The verification's lookups, before a preview or an apply; True when the pipeline may run.

    In the worker, one task asks for at most IDENTITY_LOOKUPS_PER_TASK numbers, then queues
    `task` again for the rest. If the service cannot answer, the upload is held (CPF05), its file
    kept (an unattended import never stored it).
    """

    def progress(done: int, total: int) -> None:
        _progress_set(
            upload_id, phase="Verifying the children with PDS", percent=min(95, 5 + 90 * done // max(total, 1))
        )

    try:
        complete = verification.lookups(
            upload_id=upload_id,
            content=content,
            limit=settings.IDENTITY_LOOKUPS_PER_TASK if in_worker else None,
            progress=progress,
        )
    except VerificationUnavailable:
        verification.hold(upload_id=upload_id, content=None if in_worker else content)
        return False
    if not complete:
        try:
            task.delay(upload_id)
        except Exception as error:  # noqa: BLE001 - no broker: beat's retry picks the held file up
            logger.warning("plan upload %s could not be queued again: %s", upload_id, type(error).__name__)
            verification.hold(upload_id=upload_id)
    return complete
