"""Secrets we hand out once (invitation links, API tokens) and then know only by their hash."""

import hashlib


def token_hash(raw: str) -> str:
    # Our tokens carry at least 128 bits of randomness, so a plain SHA-256 is enough (no slow
    # hash needed), and it lets us look a token up by its hash with one indexed query.
    return hashlib.sha256(raw.encode()).hexdigest()
