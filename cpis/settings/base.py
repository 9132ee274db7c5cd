"""Settings for every environment, read from the environment (see `.env.example`).

With nothing configured the service runs on embedded defaults: an SQLite file, a local-memory
cache and Celery tasks run in-process. Setting DATABASE_URL, REDIS_URL and CELERY_BROKER_URL
switches to PostgreSQL, Redis and a separate worker.
"""

import ipaddress
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# A fixed key is only tolerable on a developer's machine; production must set one.
SECRET_KEY = env("SECRET_KEY", default="insecure-development-key-only" if DEBUG else environ.Env.NOTSET)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

# Single sign-on through organisations' OpenID Connect providers (single_sign_on/).
SSO_HTTP_TIMEOUT = env.float("SSO_HTTP_TIMEOUT", default=5.0)
# Allowed clock difference with a provider when checking an ID token's times.
SSO_CLOCK_LEEWAY = env.int("SSO_CLOCK_LEEWAY", default=30)
# How often a signed-in session asks its provider (refresh token) whether the account still
# works there, and how long an unreachable provider is tolerated before the session ends.
SSO_REVALIDATE_SECONDS = env.int("SSO_REVALIDATE_SECONDS", default=300)
SSO_REVALIDATE_GRACE = env.int("SSO_REVALIDATE_GRACE", default=900)
# The public back-channel logout endpoint: refused logout tokens per minute from one client
# address, and naming one provider (from any address; tokens naming none share one count), before
# its refusals answer 429 and are audited once a minute. Valid tokens are never limited by the
# provider's count. A provider's keys are fetched again for an unknown key id at most once in
# SSO_KEY_REFETCH_SECONDS (docs/single-sign-on.md).
SSO_LOGOUT_ADDRESS_LIMIT = env.int("SSO_LOGOUT_ADDRESS_LIMIT", default=20)
SSO_LOGOUT_PROVIDER_LIMIT = env.int("SSO_LOGOUT_PROVIDER_LIMIT", default=60)
SSO_KEY_REFETCH_SECONDS = env.int("SSO_KEY_REFETCH_SECONDS", default=60)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "axes",
    "csp",
    "core",
    "accounts",
    "audit",
    "plans",
    "attendances",
    "notifications",
    "fhir",
    "reports",
    "guidance",
    "privacy",
    "operations",
    "identity",
    "single_sign_on",
    "administration",
    "mesh",
    "suppliers",
]
# The demo (seed_demo, totp_code) creates users with published passwords: its app is installed
# only on a developer's machine or a deliberate demo deployment, never by production settings.
DEMO = env.bool("DEMO", default=False)
if DEBUG or DEMO:
    INSTALLED_APPS.append("demo")

MIDDLEWARE = [
    # Request counts and latencies for /metrics (with its partner last in the list).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # So every log line a request causes carries its id (cpis/logs.py).
    "cpis.logs.RequestContextMiddleware",
    # Records the API calls of a supplier's conformance run (any other token passes by on a
    # string comparison); outermost after the log context, so it sees every answer as sent.
    "suppliers.middleware.ConformanceRecordingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "accounts.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, given the user read with the session (accounts/backends.py).
    "accounts.middleware.AuthenticationMiddleware",
    # django-otp's, with its device read compiled once per process.
    "accounts.middleware.OTPMiddleware",
    "accounts.middleware.IdleTimeoutMiddleware",
    "accounts.middleware.CurrentOrganisationMiddleware",
    # Outside the login check and every view, so it sees each 403 and 404 they answer.
    "accounts.middleware.RefusalAuditMiddleware",
    # Every view needs a signed-in user unless marked `login_not_required`; the sign-in page
    # gets `?next=` (a path of ours: accounts.views._safe_next refuses any other).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Ends a single sign-on session once the identity provider stops vouching for the person
    # (after the messages, so the sign-in page can say why).
    "single_sign_on.middleware.ProviderSessionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "cpis.urls"
# Where the pages' compiled templates are kept between workers (cpis/jinja2.py); empty: Jinja's
# own directory for this system user under the temporary directory, private to it.
JINJA_BYTECODE_CACHE_DIR = env.str("JINJA_BYTECODE_CACHE_DIR", default="") or None
WSGI_APPLICATION = "cpis.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "cpis.jinja2.environment", "context_processors": ["cpis.jinja2.context"]},
    },
    {
        # The Django admin keeps Django templates.
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ]
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if "postgresql" in DATABASES["default"]["ENGINE"]:
    # A database host that stops answering (rather than refusing) must fail a request in seconds,
    # not hold it past gunicorn's timeout: the error handlers then answer 503 (ADR-013).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
elif "sqlite" in DATABASES["default"]["ENGINE"]:
    # The demo's SQLite (README): the page's requests and the upload's background thread write
    # at once. A transaction that starts reading and then writes cannot wait for the lock (SQLite
    # answers "database is locked" at once), so each takes the write lock when it begins and
    # waits for it; WAL lets the pages read while a write is under way.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": env.int("DATABASE_SQLITE_TIMEOUT", default=20),
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
# Behind PgBouncer in transaction pooling mode the service keeps no session state between
# transactions: every server-side cursor lives inside one transaction and psycopg never prepares
# statements (Django leaves prepare_threshold unset). For a pooler that may switch connections
# within a transaction: true turns server-side cursors off, and each export then receives its whole
# result into memory before the first row is sent. docs/deployment.md "PgBouncer".
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool("DATABASE_DISABLE_SERVER_SIDE_CURSORS", default=False)
# A streaming replica for the reads that may lag (cpis/replica.py: reports, progress pages, the
# audit search); never the check, the alert, the inbox or a write. Empty: everything on the primary.
DATABASE_REPLICA_URL = env("DATABASE_REPLICA_URL", default="")
# Seconds behind beyond which a lag-tolerant read goes to the primary instead.
DATABASE_REPLICA_MAX_LAG = env.float("DATABASE_REPLICA_MAX_LAG", default=60.0)
# Seconds an unreachable replica is left alone before it is tried again (reads use the primary).
DATABASE_REPLICA_RETRY_SECONDS = env.float("DATABASE_REPLICA_RETRY_SECONDS", default=30.0)
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = {
        **env.db_url_config(DATABASE_REPLICA_URL),
        "ATOMIC_REQUESTS": False,
        "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
        "CONN_HEALTH_CHECKS": True,
        "DISABLE_SERVER_SIDE_CURSORS": DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"],
        # A replica that does not answer costs the page two seconds once, then is skipped.
        "OPTIONS": {"connect_timeout": env.int("DATABASE_REPLICA_CONNECT_TIMEOUT", default=2)},
        # The test run has one database: the replica alias reads it.
        "TEST": {"MIRROR": "default"},
    }
DATABASE_ROUTERS = ["cpis.replica.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The role web, worker and beat connect as (README "Database roles"): `migrate`, run as the
# tables' owner, grants it what it needs after every run. Empty: no grants (one-role setups).
DATABASE_APP_ROLE = env("DATABASE_APP_ROLE", default="")
# The read-only role backups run as (docs/operations.md "Backup and restore"): `migrate` grants
# it SELECT on every table, sequence and audit partition, and on those made later. Empty: none.
DATABASE_BACKUP_ROLE = env("DATABASE_BACKUP_ROLE", default="")
# What `manage.py backup_database` (and `make backup`) connects with: the backup role's URL.
# Empty: DATABASE_URL, which works only for a role that reads every audit partition (the owner).
DATABASE_BACKUP_URL = env("DATABASE_BACKUP_URL", default="")

REDIS_URL = env("REDIS_URL", default="")
# REDIS_URL and CELERY_BROKER_URL may name Redis Sentinels instead of one Redis, in kombu's form
# `sentinel://host:26379/1;sentinel://host2:26379;sentinel://host3:26379` (the database from the
# first), for the Redis group the sentinels call REDIS_SENTINEL_MASTER (cpis/redis_sentinel.py).
REDIS_SENTINEL_MASTER = env("REDIS_SENTINEL_MASTER", default="cpis")
if REDIS_URL:
    # Short socket timeouts: a frozen Redis must cost a request a fraction of a second, not
    # the kernel's minutes (cpis/resilience.py then stops asking it for a while).
    REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.5)
    _cache_options: dict[str, object] = {
        "socket_timeout": REDIS_SOCKET_TIMEOUT,
        "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
    }
    if REDIS_URL.startswith("sentinel://"):
        _cache_options |= {"pool_class": "cpis.redis_sentinel.SentinelPool", "service_name": REDIS_SENTINEL_MASTER}
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            # A list, so Django does not split the sentinels' `;` into read replicas.
            "LOCATION": [REDIS_URL],
            "OPTIONS": _cache_options,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Axes must come first so a locked-out (user, address) pair never reaches the password check.
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, given the user the session was read with (accounts/backends.py).
    "accounts.backends.SessionUserBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# A forgotten-password link works once (Django's token hashes the password) and for this long.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_MINUTES", default=30) * 60
# Forgotten-password requests answered with an e-mail, per address typed and per client address,
# in each window; over either, the page answers the same and nothing is sent (docs/administration.md).
PASSWORD_RESET_EMAIL_LIMIT = env.int("PASSWORD_RESET_EMAIL_LIMIT", default=3)
PASSWORD_RESET_CLIENT_LIMIT = env.int("PASSWORD_RESET_CLIENT_LIMIT", default=20)
PASSWORD_RESET_LIMIT_WINDOW = env.int("PASSWORD_RESET_LIMIT_WINDOW_MINUTES", default=60) * 60
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"

# Sessions live in the database, linked to their user, so deactivation can end them at once.
SESSION_ENGINE = "accounts.sessions"
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=15 * 60)
SESSION_WARNING_BEFORE = env.int("SESSION_WARNING_BEFORE", default=2 * 60)
SESSION_ABSOLUTE_TIMEOUT = env.int("SESSION_ABSOLUTE_TIMEOUT", default=12 * 60 * 60)
# Adding a passkey needs the password and a code, or a passkey, used within this many minutes
# (the sign-in itself counts): a stolen session alone cannot add one (docs/adr/ADR-008-passkeys.md).
REAUTHENTICATION_WINDOW = env.int("REAUTHENTICATION_MINUTES", default=5) * 60
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT
# A browser-session cookie: closing the browser ends the sign-in (a shared ward PC); the
# middleware still ends it after SESSION_ABSOLUTE_TIMEOUT and SESSION_IDLE_TIMEOUT.
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

TRAINING_VALIDITY_DAYS = env.int("TRAINING_VALIDITY_DAYS", default=365)
# Requests per minute one user may make through the FHIR API, all their tokens together.
FHIR_RATE_LIMIT_PER_MINUTE = env.int("FHIR_RATE_LIMIT_PER_MINUTE", default=120)
# Keys the FHIR API's opaque resource ids (fhir/ids.py): changing it changes every id.
FHIR_ID_KEY = env("FHIR_ID_KEY", default="") or SECRET_KEY
# Invalid bearer tokens per window, counted per presented token and per client address, before
# further invalid ones are answered 429 instead of 401; a valid token is never refused by them.
FHIR_BAD_TOKEN_LIMIT = env.int("FHIR_BAD_TOKEN_LIMIT", default=20)
FHIR_BAD_TOKEN_ADDRESS_LIMIT = env.int("FHIR_BAD_TOKEN_ADDRESS_LIMIT", default=200)
FHIR_BAD_TOKEN_WINDOW_MINUTES = env.int("FHIR_BAD_TOKEN_WINDOW_MINUTES", default=10)
# A CareTeam read by id this soon after the same user's check of the child at the same
# organisation joins that check (no second visit, no second notification): the four-hour A&E
# standard, one attendance. A read with the check's own TraceID joins it the whole day.
FHIR_READ_EPISODE_MINUTES = env.int("FHIR_READ_EPISODE_MINUTES", default=240)
# Checks of children (web and API, silent reads included) one user may make in an hour; over it
# further checks are refused and the organisation's admins are told. 0 switches the limit off.
CHECK_RATE_LIMIT_PER_HOUR = env.int("CHECK_RATE_LIMIT_PER_HOUR", default=60)
# Access-pattern alerts (privacy/rules.py, docs/privacy.md): which rules run, their thresholds
# and windows. A "shift" is the hours before the newest check; "usual" is the median over the
# days of the baseline on which the user (or their organisation's users) checked at all.
PRIVACY_RULES = env.list(
    "PRIVACY_RULES",
    default=[
        "volume", "repeat_child", "no_plan", "unusual_hours", "unusual_place",
        "possible_relative", "own_local_authority", "silent_reads",
    ],
)  # fmt: skip
PRIVACY_SHIFT_HOURS = env.int("PRIVACY_SHIFT_HOURS", default=12)
PRIVACY_BASELINE_DAYS = env.int("PRIVACY_BASELINE_DAYS", default=30)
PRIVACY_VOLUME_FACTOR = env.float("PRIVACY_VOLUME_FACTOR", default=3.0)
PRIVACY_VOLUME_MIN = env.int("PRIVACY_VOLUME_MIN", default=30)
# The same child on this many different days within the baseline, or again this many hours or
# more after a check of them that found no plan.
PRIVACY_REPEAT_DAYS = env.int("PRIVACY_REPEAT_DAYS", default=3)
PRIVACY_RECHECK_GAP_HOURS = env.int("PRIVACY_RECHECK_GAP_HOURS", default=1)
PRIVACY_NO_PLAN_FACTOR = env.float("PRIVACY_NO_PLAN_FACTOR", default=3.0)
PRIVACY_NO_PLAN_MIN = env.int("PRIVACY_NO_PLAN_MIN", default=20)
# Usual hours and places need this many earlier checks; an hour within the margin of one the
# user has checked in before is usual.
PRIVACY_UNUSUAL_MIN_HISTORY = env.int("PRIVACY_UNUSUAL_MIN_HISTORY", default=20)
PRIVACY_UNUSUAL_HOUR_MARGIN = env.int("PRIVACY_UNUSUAL_HOUR_MARGIN", default=1)
PRIVACY_SILENT_FACTOR = env.float("PRIVACY_SILENT_FACTOR", default=3.0)
PRIVACY_SILENT_MIN = env.int("PRIVACY_SILENT_MIN", default=5)
# How often beat scans the new audit events, and how far behind now it stays so that a check
# whose transaction is still open when the scan runs is read by the next one.
PRIVACY_SCAN_INTERVAL = env.int("PRIVACY_SCAN_INTERVAL", default=300)
PRIVACY_SCAN_LAG_SECONDS = env.int("PRIVACY_SCAN_LAG_SECONDS", default=60)
# How often beat works out every organisation's go-live state again for the national pages
# (docs/reports.md); the pages work the states out live when the last refresh is three of these old.
GO_LIVE_REFRESH_INTERVAL = env.int("GO_LIVE_REFRESH_INTERVAL", default=300)
# Access administration (docs/administration.md): invitation links, unused accounts, reminders.
INVITATION_VALID_HOURS = env.int("INVITATION_VALID_HOURS", default=72)
ACCOUNT_UNUSED_LOCK_DAYS = env.int("ACCOUNT_UNUSED_LOCK_DAYS", default=90)
TRAINING_REMINDER_DAYS = env.int("TRAINING_REMINDER_DAYS", default=30)
# Plan upload limits (SPEC 2 "Plan upload") and how long an unconfirmed preview keeps its file.
PLAN_UPLOAD_MAX_BYTES = env.int("PLAN_UPLOAD_MAX_BYTES", default=25 * 1024 * 1024)
PLAN_UPLOAD_MAX_ROWS = env.int("PLAN_UPLOAD_MAX_ROWS", default=200_000)
PLAN_UPLOAD_PREVIEW_LIFETIME = timedelta(hours=env.int("PLAN_UPLOAD_PREVIEW_HOURS", default=24))
# Days a plan is kept after clinicians stopped being shown it (or after it was withdrawn).
PLAN_RETENTION_DAYS = env.int("PLAN_RETENTION_DAYS", default=90)
# The audit log is kept 8 years, then dropped a whole month at a time by the owner role
# (docs/operations.md, audit/partitions.py); monthly partitions are made this many months ahead.
AUDIT_RETENTION_MONTHS = env.int("AUDIT_RETENTION_MONTHS", default=96)
AUDIT_PARTITIONS_AHEAD = env.int("AUDIT_PARTITIONS_AHEAD", default=2)
# The most events one audit CSV download holds. A download is one request, which gunicorn ends
# after GUNICORN_TIMEOUT (60 s), and an export streams about 2,500 rows a second on 2 busy
# cores: a larger search is refused with what to narrow, rather than cut off mid-file.
AUDIT_EXPORT_MAX_ROWS = env.int("AUDIT_EXPORT_MAX_ROWS", default=50_000)
# Identity assurance (docs/plans.md "Identity verification"): `none` keeps today's rules; `pds`
# verifies every uploaded child against PDS (NHS England's, or demo/pds/server.py's).
IDENTITY_SERVICE = env.str("IDENTITY_SERVICE", default="none")
if IDENTITY_SERVICE not in ("none", "pds"):
    raise ValueError("IDENTITY_SERVICE must be none or pds")
PDS_BASE_URL = env.str("PDS_BASE_URL", default="https://int.api.service.nhs.uk/personal-demographics/FHIR/R4")
PDS_TOKEN_URL = env.str("PDS_TOKEN_URL", default="https://int.api.service.nhs.uk/oauth2/token")
PDS_API_KEY = env.str("PDS_API_KEY", default="")
PDS_PRIVATE_KEY_PATH = env.str("PDS_PRIVATE_KEY_PATH", default="")
PDS_KEY_ID = env.str("PDS_KEY_ID", default="")
PDS_TIMEOUT = env.float("PDS_TIMEOUT", default=5.0)
PDS_RETRIES = env.int("PDS_RETRIES", default=3)
PDS_RETRY_BASE_SECONDS = env.float("PDS_RETRY_BASE_SECONDS", default=0.5)
PDS_CONCURRENCY = env.int("PDS_CONCURRENCY", default=4)
PDS_RATE_LIMIT_PER_SECOND = env.float("PDS_RATE_LIMIT_PER_SECOND", default=20.0)
# Numbers one worker task looks up before it queues itself again for the rest (at 20 a second,
# about eight minutes: well inside the broker's one-hour visibility timeout).
IDENTITY_LOOKUPS_PER_TASK = env.int("IDENTITY_LOOKUPS_PER_TASK", default=10_000)
# A file held because PDS was unavailable (CPF05) is retried this often, for at most this long.
IDENTITY_HELD_RETRY_SECONDS = env.int("IDENTITY_HELD_RETRY_SECONDS", default=300)
IDENTITY_HELD_MAX_HOURS = env.int("IDENTITY_HELD_MAX_HOURS", default=24)
# Numbers the nightly re-verification checks per batch.
IDENTITY_REVERIFY_BATCH = env.int("IDENTITY_REVERIFY_BATCH", default=500)
# A number checked (by a night's run or an upload's verification) within this many hours is not
# asked again: a second run the same night (beat's lock failing open, a retry) asks PDS nothing.
IDENTITY_REVERIFY_MIN_AGE_HOURS = env.int("IDENTITY_REVERIFY_MIN_AGE_HOURS", default=12)
# Repeat checks of one child at one setting within this many hours join one notification.
NOTIFICATION_EPISODE_HOURS = env.int("NOTIFICATION_EPISODE_HOURS", default=24)
# Delivery of notifications (docs/notifications.md "Configuration"): attempts per channel before
# a delivery is recorded as failed, and the exponential back-off between them (base × 2^n, capped).
NOTIFICATION_DELIVERY_MAX_ATTEMPTS = env.int("NOTIFICATION_DELIVERY_MAX_ATTEMPTS", default=10)
NOTIFICATION_RETRY_BASE_SECONDS = env.int("NOTIFICATION_RETRY_BASE_SECONDS", default=10)
NOTIFICATION_RETRY_MAX_SECONDS = env.int("NOTIFICATION_RETRY_MAX_SECONDS", default=600)
# The sweeper runs this often and re-dispatches deliveries due this long ago and still undelivered.
NOTIFICATION_SWEEP_INTERVAL = env.int("NOTIFICATION_SWEEP_INTERVAL", default=30)
NOTIFICATION_SWEEP_AFTER = env.int("NOTIFICATION_SWEEP_AFTER", default=30)
# At most this many rows per sweep: a backlog drains at this many per SWEEP_INTERVAL. Above what the
# workers deliver in SWEEP_AFTER, rows still queued are published again (harmless, but wasted work).
NOTIFICATION_SWEEP_MAX_PER_RUN = env.int("NOTIFICATION_SWEEP_MAX_PER_RUN", default=5000)
# A worker holds a claimed delivery this long; past it, the worker is presumed dead and the sweeper
# hands the delivery out again. Must exceed the webhook timeout by a wide margin.
NOTIFICATION_CLAIM_LEASE = env.int("NOTIFICATION_CLAIM_LEASE", default=120)
NOTIFICATION_WEBHOOK_TIMEOUT = env.int("NOTIFICATION_WEBHOOK_TIMEOUT", default=5)
# How old a signed webhook timestamp a receiver accepts (our verification helper's default).
NOTIFICATION_WEBHOOK_TOLERANCE = env.int("NOTIFICATION_WEBHOOK_TOLERANCE", default=300)
# After an LA admin rotates the webhook secret, the old one also signs for this many hours.
NOTIFICATION_WEBHOOK_SECRET_OVERLAP_HOURS = env.int("NOTIFICATION_WEBHOOK_SECRET_OVERLAP_HOURS", default=24)
NOTIFICATION_OVERDUE_INTERVAL = env.int("NOTIFICATION_OVERDUE_INTERVAL", default=900)
# One-off non-working days (YYYY-MM-DD, comma-separated) on top of England's bank holidays.
NOTIFICATION_EXTRA_HOLIDAYS = env.list("NOTIFICATION_EXTRA_HOLIDAYS", default=[])

# Lock out only the (user, address) pair that failed, so nobody can lock a named clinician
# out from elsewhere by guessing their password (ASVS 6.1.1 "malicious lockout").
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "accounts.views.axes_username"
AXES_LOCKOUT_CALLABLE = "accounts.views.login_locked_out"
AXES_CLIENT_IP_CALLABLE = "audit.services.client_ip"
# Axes would otherwise log e-mail addresses; the audit log records failures instead.
AXES_VERBOSE = False
# Addresses or networks of our own reverse proxies (e.g. 127.0.0.1/32,10.0.0.0/8). Only a request
# arriving from one of them has its X-Forwarded-For read; never a count, which trusts whatever a
# client connecting directly sends (audit.services.client_ip).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

OTP_TOTP_ISSUER = "CP-IS"
# django-otp's back-off (1, 2, 4… s after each wrong code) holds only for the break-glass admin's
# sign-in; the service's pages allow OTP_FAILURE_LIMIT wrong codes in a row at once, then make
# the device wait OTP_COOLOFF_MINUTES after each further one (accounts.passwords.second_factor_verify).
OTP_TOTP_THROTTLE_FACTOR = 1
SECOND_FACTOR_FAILURE_LIMIT = env.int("OTP_FAILURE_LIMIT", default=5)
SECOND_FACTOR_COOLOFF = env.int("OTP_COOLOFF_MINUTES", default=15) * 60

# Passkeys (WebAuthn, django-otp-webauthn; README "Passkeys"). A passkey belongs to one relying
# party id, the public host name people type, and the browser signs the origin it saw: behind
# the TLS proxy that is SITE_URL, never the internal address gunicorn is reached on, so both
# come from configuration and never from the request. Changing the id strands every passkey.
_site = urlsplit(SITE_URL)
# Browsers refuse passkeys on an IP address: the demo's http://127.0.0.1:8000 offers them at
# http://localhost:8000 instead (localhost is a secure context without TLS).
_site_host = "localhost" if _site.hostname and _site.hostname.replace(".", "").isdigit() else _site.hostname
_site_origin = f"{_site.scheme}://{_site_host}" + (f":{_site.port}" if _site.port else "")
OTP_WEBAUTHN_RP_ID = env("PASSKEY_RP_ID", default=_site_host or "localhost")
OTP_WEBAUTHN_ALLOWED_ORIGINS = env.list("PASSKEY_ORIGINS", default=[_site_origin])
OTP_WEBAUTHN_RP_NAME = "CP-IS"
OTP_WEBAUTHN_HELPER_CLASS = "accounts.passkeys.PasskeyHelper"
# The library logs py_webauthn's exceptions with their tracebacks; our audit log records the
# failure (without the response, which names the credential) instead.
OTP_WEBAUTHN_EXCEPTION_LOGGER_NAME = ""

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # The NHS.UK frontend's compiled assets, installed from npm by `make` (never committed).
    ("nhsuk", BASE_DIR / "node_modules" / "nhsuk-frontend" / "dist" / "nhsuk"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "cpis.staticfiles.StaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
# Seconds each SMTP operation may wait: a mail server that accepts the connection and never
# answers must fail the send, not hold a worker (or a request) for ever.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="cpis@localhost")
# GOV.UK Notify instead of SMTP: EMAIL_BACKEND=notifications.email_backends.NotifyEmailBackend
# (docs/notifications.md "GOV.UK Notify"). The key comes from the environment only; the
# template is a generic one whose subject is ((subject)) and whose body is ((body)).
NOTIFY_API_KEY = env("NOTIFY_API_KEY", default="")
NOTIFY_TEMPLATE_ID = env("NOTIFY_TEMPLATE_ID", default="")
NOTIFY_BASE_URL = env("NOTIFY_BASE_URL", default="https://api.notifications.service.gov.uk")
# Seconds a request to Notify may take, as EMAIL_TIMEOUT for SMTP.
NOTIFY_TIMEOUT = env.int("NOTIFY_TIMEOUT", default=10)
# The bearer token Notify sends with its delivery receipts (set in Notify's API integration
# settings as the callback's token); empty: the callback refuses every request.
NOTIFY_CALLBACK_TOKEN = env("NOTIFY_CALLBACK_TOKEN", default="")
# Refused callbacks (a wrong token) one address may send in a minute before it gets 429 unheard.
NOTIFY_CALLBACK_REFUSAL_LIMIT = env.int("NOTIFY_CALLBACK_REFUSAL_LIMIT", default=20)
# Where EPR suppliers write about the FHIR API (its CapabilityStatement's contact).
FHIR_CONTACT_EMAIL = env("FHIR_CONTACT_EMAIL", default="") or DEFAULT_FROM_EMAIL

# Security headers. TLS is terminated by the proxy in front of gunicorn.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = True
if SESSION_COOKIE_SECURE:
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
X_FRAME_OPTIONS = "DENY"
# Browser features no page of ours uses, switched off for every page (accounts.middleware).
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), hid=(), "
    "magnetometer=(), microphone=(), midi=(), payment=(), publickey-credentials-get=(self), "
    "serial=(), usb=(), xr-spatial-tracking=()"
)

# The licensed Frutiger fonts come only from assets.nhs.uk (they are not in the npm package), as
# every NHS service loads them. Off (the demo's default, and for a machine with no outside
# network, where every page would wait on that host): the NHS.UK CSS built without @font-face
# (static/cpis/nhsuk-frontend-system-fonts.min.css), the design system's Arial fallback, and a
# CSP that names no font host.
NHSUK_FONTS_FROM_NHS = env.bool("NHSUK_FONTS_FROM_NHS", default=not DEBUG)
# Where the phase banner's "feedback" link goes.
FEEDBACK_URL = env("FEEDBACK_URL", default="/guidance/help/")

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        # The NHS.UK page template's one inline script carries the per-response nonce.
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "https://assets.nhs.uk"] if NHSUK_FONTS_FROM_NHS else [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "object-src": [NONE],
        "base-uri": [SELF],
    }
}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
# Without a broker, tasks run in-process so `make run` needs nothing else installed.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# ...and the web process stands in for beat and the worker where the demo shows it: overdue
# marking on requests, plan files checked in a thread (see cpis/in_process.py).
IN_PROCESS_TASKS = not CELERY_BROKER_URL
if IN_PROCESS_TASKS:
    MIDDLEWARE.append("cpis.in_process.PeriodicTasksMiddleware")
CELERY_TASK_EAGER_PROPAGATES = True
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
CELERY_TASK_IGNORE_RESULT = True
# At-least-once delivery: a task is acknowledged only after it finishes, a worker killed
# mid-task gives its message back, and each worker holds one message at a time.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Every task stops at a time limit: first the soft one (SoftTimeLimitExceeded, which the task
# may catch to leave things tidy), then the hard one (the worker kills it). These are the
# defaults, under the broker's one-hour visibility timeout (a task still running past it would
# be handed to a second worker); each task that talks to the outside world (SMTP, webhooks,
# PDS, the broker) sets its own, much tighter, in its tasks.py.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=3000)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=3300)
# Socket timeouts: a Redis that stops answering (rather than refusing) must fail a publish in
# a second or two, so a clinician's check is never held up by it (the outbox sweeper sends
# later, and cpis/resilience.py spares the next checks even that wait).
CELERY_BROKER_SOCKET_TIMEOUT = env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=1.5)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_connect_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
    "socket_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
}
if CELERY_BROKER_URL.startswith("sentinel://"):
    CELERY_BROKER_TRANSPORT_OPTIONS |= {
        "master_name": REDIS_SENTINEL_MASTER,
        "sentinel_kwargs": {"socket_timeout": CELERY_BROKER_SOCKET_TIMEOUT},
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Beat runs on every host that runs it; a lock in the broker's Redis lets one publish at a time,
# and the schedule's last runs are kept there, so a beat taking over repeats no slot
# (cpis/beat.py, docs/adr/ADR-015-beat-on-every-host.md). A leader that dies is replaced within
# REDBEAT_LOCK_TIMEOUT plus one loop interval.
if CELERY_BROKER_URL.startswith(("redis://", "rediss://", "sentinel://")):
    CELERY_BEAT_SCHEDULER = "cpis.beat.LockedScheduler"
CELERY_BEAT_MAX_LOOP_INTERVAL = env.float("CELERY_BEAT_MAX_LOOP_INTERVAL", default=5.0)
CELERY_REDBEAT_LOCK_TIMEOUT = env.int("REDBEAT_LOCK_TIMEOUT", default=25)
CELERY_REDBEAT_KEY_PREFIX = env("REDBEAT_KEY_PREFIX", default="cpis:beat:")
if CELERY_BROKER_URL.startswith("sentinel://"):
    from cpis.redis_sentinel import sentinel_addresses

    _sentinels, _beat_db = sentinel_addresses(CELERY_BROKER_URL)
    CELERY_REDBEAT_REDIS_URL = "redis-sentinel://"
    CELERY_REDBEAT_REDIS_OPTIONS = {
        "sentinels": _sentinels,
        "service_name": REDIS_SENTINEL_MASTER,
        "db": _beat_db,
        "socket_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
        "sentinel_kwargs": {"socket_timeout": CELERY_BROKER_SOCKET_TIMEOUT},
    }
else:
    CELERY_REDBEAT_REDIS_URL = CELERY_BROKER_URL
    CELERY_REDBEAT_REDIS_OPTIONS = {
        "socket_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
        "socket_connect_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
    }
# A queue per delivery channel beside the default one (beat's jobs, plan uploads), so each can
# have its own workers: a webhook endpoint that hangs holds only webhook workers, never the
# inbox's (notifications.services.delivery_queue; docker-compose.yml runs a pool per queue).
# A worker started without --queues consumes them all, as `make run` does.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name), routing_key=name)
    for name in ("celery", "deliveries-inbox", "deliveries-email", "deliveries-webhook", "deliveries-mesh")
]
# A check's one message fans out to inbox, e-mail and webhook tasks: quick, and on the inbox's path.
# An admin's test of their webhook goes where webhooks go: to the pool a hanging endpoint may hold.
CELERY_TASK_ROUTES = {
    "notifications.tasks.deliveries_fan_out": {"queue": "deliveries-inbox"},
    "notifications.tasks.webhook_test_send": {"queue": "deliveries-webhook"},
}
# MESH (docs/la-interface.md): local authorities' case systems send uploads to our mailbox and
# receive acknowledgements and notifications from it. Off while MESH_URL is empty. The password,
# the shared key and the client certificate's key come from the environment or from files
# (MESH_PASSWORD_FILE, MESH_SHARED_KEY_FILE: a mounted secret), never from the database.
MESH_URL = env("MESH_URL", default="")
MESH_MAILBOX_ID = env("MESH_MAILBOX_ID", default="")
MESH_PASSWORD = env("MESH_PASSWORD", default="")
MESH_PASSWORD_FILE = env("MESH_PASSWORD_FILE", default="")
MESH_SHARED_KEY = env("MESH_SHARED_KEY", default="")
MESH_SHARED_KEY_FILE = env("MESH_SHARED_KEY_FILE", default="")
# Mutual TLS on a live MESH: our client certificate and key (PEM files), and the CA bundle its
# server certificate is checked against (empty: mesh-client's own NHS bundle for a known host).
MESH_CLIENT_CERT = env("MESH_CLIENT_CERT", default="")
MESH_CLIENT_KEY = env("MESH_CLIENT_KEY", default="")
MESH_CA_BUNDLE = env("MESH_CA_BUNDLE", default="")
MESH_TIMEOUT = env.float("MESH_TIMEOUT", default=30.0)
# NHS England gives CP-IS's workflow ids at onboarding (research file 7.3): configuration, never code.
MESH_WORKFLOW_UPLOAD = env("MESH_WORKFLOW_UPLOAD", default="CPIS_UPLOAD")
MESH_WORKFLOW_ACKNOWLEDGEMENT = env("MESH_WORKFLOW_ACKNOWLEDGEMENT", default="CPIS_UPLOAD_ACK")
MESH_WORKFLOW_NOTIFICATION = env("MESH_WORKFLOW_NOTIFICATION", default="CPIS_NOTIFICATION")
MESH_WORKFLOW_ERROR = env("MESH_WORKFLOW_ERROR", default="CPIS_ERROR")
MESH_POLL_INTERVAL = env.int("MESH_POLL_INTERVAL", default=60)
# Messages one poll takes at most; the rest wait for the next.
MESH_POLL_MAX_MESSAGES = env.int("MESH_POLL_MAX_MESSAGES", default=100)
# The lease that keeps a second host from polling at the same time (mesh/lease.py): the running
# poll renews it every third of this, so a poller killed mid-poll holds the others up this long.
MESH_POLL_LEASE_SECONDS = env.float("MESH_POLL_LEASE_SECONDS", default=30.0)
# Outbound MESH messages (acknowledgements, refusals): attempts and back-off, as deliveries'.
MESH_SEND_MAX_ATTEMPTS = env.int("MESH_SEND_MAX_ATTEMPTS", default=10)
# Chunks we send are at most this size (mesh-client's default is 75 MiB).
MESH_MAX_CHUNK_SIZE = env.int("MESH_MAX_CHUNK_SIZE", default=20 * 1024 * 1024)

CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "cpis.health.worker_heartbeat", "schedule": 30.0},
    # Expiring at the next run: after an outage, one sweep is enough, not one per missed interval.
    "notifications-sweep": {
        "task": "notifications.tasks.deliveries_sweep",
        "schedule": float(NOTIFICATION_SWEEP_INTERVAL),
        "options": {"expires": float(NOTIFICATION_SWEEP_INTERVAL)},
    },
    "notifications-mark-overdue": {
        "task": "notifications.tasks.notifications_mark_overdue",
        "schedule": float(NOTIFICATION_OVERDUE_INTERVAL),
        "options": {"expires": float(NOTIFICATION_OVERDUE_INTERVAL)},
    },
    "training-expiry-reminders": {
        "task": "accounts.administration.tasks.training_expiry_reminders_send",
        "schedule": crontab(hour=7, minute=0),
    },
    "unused-accounts-lock": {
        "task": "accounts.administration.tasks.unused_accounts_lock",
        "schedule": crontab(hour=2, minute=30),
    },
    # Nightly, just after midnight London time: CPP/LAC end on the 18th birthday, then the purge.
    "plans-end-at-eighteen": {"task": "plans.tasks.plans_end_at_eighteen_task", "schedule": crontab(hour=0, minute=5)},
    "plans-purge": {"task": "plans.tasks.plans_purge_task", "schedule": crontab(hour=0, minute=35)},
    # An upload left "Being applied" by an import or worker that died is marked failed.
    "plan-uploads-stale-fail": {
        "task": "plans.tasks.plan_uploads_stale_fail_task",
        "schedule": 300.0,
        "options": {"expires": 300.0},
    },
    # Files held because PDS was unavailable (CPF05) are tried again; numbers re-verified nightly.
    "identity-held-uploads-retry": {
        "task": "identity.tasks.held_uploads_retry_task",
        "schedule": float(IDENTITY_HELD_RETRY_SECONDS),
        "options": {"expires": float(IDENTITY_HELD_RETRY_SECONDS)},
    },
    # One poll at a time across hosts (a lock in Redis); expiring at the next run.
    "mesh-poll": {
        "task": "mesh.tasks.mesh_poll",
        "schedule": float(MESH_POLL_INTERVAL),
        "options": {"expires": float(MESH_POLL_INTERVAL)},
    },
    "identity-reverify": {"task": "identity.tasks.identities_reverify_task", "schedule": crontab(hour=1, minute=15)},
    # Next months' audit partitions, made daily though needed monthly: a missed day costs nothing.
    "audit-partitions-ensure": {
        "task": "audit.tasks.audit_partitions_ensure",
        "schedule": crontab(hour=3, minute=10),
    },
    # The reports' roll-up of the days just ended (reports/rollup.py). Hourly, so a missed run
    # (a worker down at midnight) leaves the reports slower, never wrong, for an hour at most;
    # at a quarter past, so a check or an acknowledgement whose transaction straddled midnight
    # has committed before its day is counted once for good.
    "reports-days-roll-up": {
        "task": "reports.tasks.report_days_roll_up",
        "schedule": crontab(minute=15),
        "options": {"expires": 3600.0},
    },
    # Each organisation's go-live state (reports/progress.py), which the passing of time changes too:
    # an upload or a check older than 30 days, training that expires.
    "reports-go-live-refresh": {
        "task": "reports.tasks.go_live_refresh",
        "schedule": float(GO_LIVE_REFRESH_INTERVAL),
        "options": {"expires": float(GO_LIVE_REFRESH_INTERVAL)},
    },
    "privacy-alerts-scan": {
        "task": "privacy.tasks.alerts_scan",
        "schedule": float(PRIVACY_SCAN_INTERVAL),
        "options": {"expires": float(PRIVACY_SCAN_INTERVAL)},
    },
    # The users' usual for the scan (privacy/baselines.py). Hourly, so a missed run leaves the
    # scans slower (they read the audit log instead), never wrong; at twenty past, so a check
    # whose transaction straddled midnight has committed before its day is summarised.
    "privacy-baselines-roll-up": {
        "task": "privacy.tasks.baselines_roll_up",
        "schedule": crontab(minute=20),
        "options": {"expires": 3600.0},
    },
    # Mondays: each organisation's privacy officers are told how many alerts are open.
    "privacy-open-alerts-email": {
        "task": "privacy.tasks.open_alerts_email_send",
        "schedule": crontab(day_of_week=1, hour=8, minute=0),
    },
}
# Each delivery channel's pool proves itself alive on its own queue (operations/tasks.py).
CELERY_BEAT_SCHEDULE.update(
    {
        f"pool-heartbeat-{queue}": {
            "task": "operations.tasks.pool_heartbeat",
            "schedule": 30.0,
            "args": (queue,),
            "options": {"queue": queue, "expires": 30.0},
        }
        for queue in ("deliveries-inbox", "deliveries-email", "deliveries-webhook", "deliveries-mesh")
    }
)
WORKER_HEARTBEAT_MAX_AGE = 120
# Each worker records itself this often (operations.WorkerPresence); the service-health page
# shows one unheard of for two of these as gone.
WORKER_PRESENCE_SECONDS = env.float("WORKER_PRESENCE_SECONDS", default=30.0)

# Requests to addresses an organisation's admin types (webhooks) go through core/outbound.py:
# https only, public addresses only, no redirects (docs/adr/ADR-011-guarded-outbound-requests.md).
# Seconds to resolve the name and to connect; the caller's own timeout covers each read and write.
OUTBOUND_CONNECT_TIMEOUT = env.float("OUTBOUND_CONNECT_TIMEOUT", default=3.0)
# Networks let through although not public (e.g. 10.20.0.0/16,fd00:1::/64): for tests and for a
# closed network whose receivers are inside it. Empty in production on the internet.
# A value that is not a network stops the service starting, rather than the first delivery.
OUTBOUND_ALLOWED_NETWORKS = [
    str(ipaddress.ip_network(network.strip(), strict=False))
    for network in env.list("OUTBOUND_ALLOWED_NETWORKS", default=[])
    if network.strip()
]
# A PEM file of the certificate authorities outbound requests trust, instead of certifi's bundle
# (a closed network's own CA). Empty: certifi's.
OUTBOUND_CA_BUNDLE = env("OUTBOUND_CA_BUNDLE", default="")

# The header our reverse proxy puts its request id in (e.g. X-Request-ID), trusted only when
# set here; otherwise each request gets a new id. Either way it is answered as X-Request-ID.
REQUEST_ID_HEADER = env("REQUEST_ID_HEADER", default="")
# Logs: one JSON object per line (LOG_FORMAT=json, the default) with the request id, user id,
# organisation, FHIR TraceID and Celery task, or plain text for a developer's terminal. Every
# handler redacts query strings and NHS numbers (cpis/logs.py); messages carry ids, never names
# or dates of birth.
LOG_FORMAT = env("LOG_FORMAT", default="plain" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "cpis.logs.JsonFormatter"},
    },
    # On the handler, so every logger's records pass them.
    "filters": {"redact": {"()": "cpis.logs.RedactFilter"}, "context": {"()": "cpis.logs.ContextFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["redact", "context"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Request logs carry URLs only; child data never appears in a URL (POST searches).
        "django.request": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # httpx logs each request's URL at INFO, and a PDS URL ends in an NHS number.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
# The worker logs through the configuration above (JSON, redacted) instead of Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# /metrics (operations/metrics.py): a bearer token for the scraper, and/or addresses or networks
# allowed without one. With neither set, nobody may read it.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])

# Optional error tracking (cpis/sentry.py): nothing personal is sent, query strings included.
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    from cpis.sentry import sentry_init

    sentry_init(SENTRY_DSN, environment=env("SENTRY_ENVIRONMENT", default=""))

# The Retry-After of the one 503 a conformance run injects (suppliers/): the system under test
# must wait that long before its retry.
CONFORMANCE_RETRY_AFTER_SECONDS = env.int("CONFORMANCE_RETRY_AFTER_SECONDS", default=30)
