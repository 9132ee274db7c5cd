"""Stable, opaque FHIR resource ids: a row's key and resource kind, enciphered into a UUID.

The national API gives every resource a UUID that says nothing about the record behind it. Ours
are a four-round Feistel cipher (HMAC-SHA256 rounds, keyed by `FHIR_ID_KEY`) over the row's
primary key, the kind of resource and seven zero bytes. So:

- the same row always has the same id (no table to keep, no migration, no write per search);
- an id reveals nothing (not the row number, not how many rows there are, not which ids are
  neighbours), and ids of the kinds cut from one row (a visit's AuditEvent and PractitionerRole)
  look unrelated;
- an id nobody was given is refused: a guess decodes to the zero bytes with odds of 2^-56.

Changing `FHIR_ID_KEY` changes every id, as a new server would; set it once and keep it.
"""

import hashlib
import hmac
import re
import uuid
from enum import IntEnum

from django.conf import settings

_ROUNDS = 4
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Kind(IntEnum):
    # Never renumber: the number is part of every id already handed out.
    CARE_TEAM = 1  # a plan, as the CP-IS CareTeam search answers it
    AUDIT_EVENT = 2  # a visit
    PRACTITIONER_ROLE = 3  # who made a visit, in which role, where
    FLAG = 4  # a plan, as the Patient Flag API's Flag
    CARE_PLAN = 5  # a plan, as the Patient Flag API's CarePlan
    FLAG_CARE_TEAM = 6  # a plan's local authority team, as the Patient Flag API's CareTeam


def _key() -> bytes:
    # Derived rather than used directly, so the key serves this purpose only.
    return hmac.new(settings.FHIR_ID_KEY.encode(), b"cpis fhir resource ids", hashlib.sha256).digest()


def _round(key: bytes, number: int, half: bytes) -> bytes:
    return hmac.new(key, bytes([number]) + half, hashlib.sha256).digest()[:8]


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def fhir_id(kind: Kind, pk: int) -> str:
    key = _key()
    block = pk.to_bytes(8, "big") + bytes([kind]) + bytes(7)
    left, right = block[:8], block[8:]
    for number in range(_ROUNDS):
        left, right = right, _xor(left, _round(key, number, right))
    return str(uuid.UUID(bytes=left + right))


def fhir_id_key(value: str, kinds: tuple[Kind, ...]) -> tuple[Kind, int] | None:
    """The (kind, primary key) behind an id of one of `kinds`, or None for anything else."""
    if not isinstance(value, str) or not _UUID.match(value):
        return None
    key = _key()
    raw = uuid.UUID(value).bytes
    left, right = raw[:8], raw[8:]
    for number in reversed(range(_ROUNDS)):
        left, right = _xor(right, _round(key, number, left)), left
    block = left + right
    if block[9:] != bytes(7) or block[8] not in kinds:
        return None
    return Kind(block[8]), int.from_bytes(block[:8], "big")
