"""Test settings: the real PostgreSQL and Redis, local defaults (override with the environment)."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://root@127.0.0.1:5432/cpis")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")

from cpis.settings.base import *  # noqa: E402,F403
from cpis.settings.base import INSTALLED_APPS, STORAGES  # noqa: E402

ALLOWED_HOSTS = ["*"]
# The tests seed the demo and check its refusals, whatever DEBUG is.
if "demo" not in INSTALLED_APPS:
    INSTALLED_APPS = [*INSTALLED_APPS, "demo"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests that need a real worker start one themselves and switch this off.
CELERY_TASK_ALWAYS_EAGER = True
IN_PROCESS_TASKS = False
MIDDLEWARE = [m for m in MIDDLEWARE if m != "cpis.in_process.PeriodicTasksMiddleware"]  # noqa: F405
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/2")
# The tests' webhook receiver's one loopback address (tests/tls.py RECEIVER_HOST); the rest of
# loopback, and every private range, stays refused to outbound requests, as in production.
OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.2/32"]
# Plain static storage: the live server of the browser tests serves files from the finders,
# which know no hashed names. The production storage, collectstatic and whitenoise are tested
# as deployed by tests/browser/test_production_parity.py.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
# The URL matrix and the fuzz send refused logout tokens (and Notify callbacks) from one address, test after test, into
# counters Redis keeps for a minute; the tests of these limits set their own.
SSO_LOGOUT_ADDRESS_LIMIT = SSO_LOGOUT_PROVIDER_LIMIT = NOTIFY_CALLBACK_REFUSAL_LIMIT = 10_000
