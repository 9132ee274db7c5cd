"""Backups of the PostgreSQL database with pg_dump, and their restore with pg_restore
(`make backup`, `make restore`; docs/operations.md "Backup and restore").

The dump is PostgreSQL's custom format: compressed, and restorable table by table. It holds
the schema with the audit table's append-only trigger, the data, and the grants, so a restored
database refuses changes to the audit log exactly as the original did. It is full of personal
data: store it encrypted, with the same care as the database.
"""

import os
import shutil
import subprocess
from pathlib import Path

import environ


def _tool(name: str) -> str:
    """The PostgreSQL client program's full path (PG_BIN_DIR, else the PATH); its major version
    must be at least the server's."""
    found = shutil.which(name, path=os.environ.get("PG_BIN_DIR") or None)
    if found is None:
        raise FileNotFoundError(f"{name} not found: install the PostgreSQL client or set PG_BIN_DIR")
    return found


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection options for the PostgreSQL tools; the password goes in the environment,
    never on a command line that `ps` would show."""
    config = environ.Env.db_url_config(url)
    if "postgresql" not in config["ENGINE"]:
        raise ValueError("Backups are for PostgreSQL (DATABASE_URL is not postgres://).")
    args = ["--dbname", config["NAME"]]
    if config.get("HOST"):
        args += ["--host", str(config["HOST"])]
    if config.get("PORT"):
        args += ["--port", str(config["PORT"])]
    if config.get("USER"):
        args += ["--username", str(config["USER"])]
    env = {**os.environ}
    if config.get("PASSWORD"):
        env["PGPASSWORD"] = str(config["PASSWORD"])
    return args, env


class BackupFailed(RuntimeError):
    """pg_dump refused or failed; the message is its own, with what to do about it."""


def database_dump(*, url: str, path: Path) -> Path:
    """Dumps the database at `url` (the backup role's, DATABASE_BACKUP_URL) into `path`.

    pg_dump reads each audit partition directly, which the application role may not
    (audit/database_roles.py): a backup runs as the read-only backup role, or as the owner.
    """
    args, env = _libpq(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(  # noqa: S603 - fixed program, arguments from our settings
        [_tool("pg_dump"), "--format=custom", "--file", str(path), *args],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        # A half-written dump must never pass for a backup.
        path.unlink(missing_ok=True)
        message = done.stderr.strip() or f"pg_dump exited with status {done.returncode}"
        if "permission denied" in message:
            message += (
                "\nThe backup must connect as the read-only backup role that migrate grants"
                " (DATABASE_BACKUP_ROLE): set DATABASE_BACKUP_URL to it (docs/operations.md, Backup and restore)."
            )
        raise BackupFailed(message)
    return path


def database_is_empty(*, url: str) -> bool:
    args, env = _libpq(url)
    found = subprocess.run(  # noqa: S603
        [
            _tool("psql"),
            *args,
            "--no-psqlrc",
            "--tuples-only",
            "--no-align",
            "--command",
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return found.stdout.strip() == "0"


def database_restore(*, url: str, path: Path) -> None:
    """Restores a dump into an empty database (restoring over a live one would mix two states).
    Ownership goes to the restoring role; the grants in the dump are restored as they were."""
    if not database_is_empty(url=url):
        raise RuntimeError("The target database is not empty: restore into a new, empty database.")
    args, env = _libpq(url)
    subprocess.run(  # noqa: S603
        [_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction", *args, str(path)],
        env=env,
        check=True,
    )
