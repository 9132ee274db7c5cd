"""The tests marked `sqlite` on SQLite, as `make run`'s demo runs (README): a SQLite file, the
in-process cache and tasks in the web process. `make test` runs them beside the full suite."""

import os
import tempfile
from pathlib import Path

# Not setdefault: a shell that points DATABASE_URL and REDIS_URL at the servers for the full
# suite must not turn this run into a second PostgreSQL one.
_FILE = Path(tempfile.gettempdir()) / f"cpis-test-sqlite-{os.getpid()}.sqlite3"
os.environ["DATABASE_URL"] = f"sqlite:///{_FILE}"
os.environ["REDIS_URL"] = ""

from cpis.settings.test import *  # noqa: E402,F403
from cpis.settings.test import DATABASES  # noqa: E402

# A file, as the demo's (an in-memory database hides locking and per-connection state).
DATABASES["default"]["TEST"] = {"NAME": str(_FILE.with_suffix(".test.sqlite3"))}
# The demo's broker: none (tasks run eagerly here, in the web process there).
CELERY_BROKER_URL = "memory://"
