"""The benches' databases: created when missing, so `make bench` works on a fresh machine."""

import psycopg


def conninfo(db: dict, name: str) -> str:
    """A libpq URL for database `name` on the server that Django's settings `db` point at."""
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def database_ensure(db: dict, name: str) -> None:
    with psycopg.connect(conninfo(db, "postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
