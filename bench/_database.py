"""The benches' databases: created when missing, so `make bench` works on a fresh machine."""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import connections


def conninfo(db: dict, name: str) -> str:
    """A libpq URL for database `name` on the server that Django's settings `db` point at."""
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def database_ensure(db: dict, name: str) -> None:
    with psycopg.connect(conninfo(db, "postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


@contextmanager
def bench_database(name: str) -> Iterator[dict]:
    """Points this process's default connection at the bench database `name`, then back."""
    conn = connections["default"]
    conn.close()
    original = conn.settings_dict["NAME"]
    conn.settings_dict["NAME"] = name
    try:
        yield conn.settings_dict
    finally:
        conn.close()
        conn.settings_dict["NAME"] = original
