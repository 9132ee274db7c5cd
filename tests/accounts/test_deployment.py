import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from accounts.models import Organisation, Role, User

PRODUCTION_ENV = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "cpis.example.nhs.uk",
    "DATABASE_URL": "postgres://cpis@db:5432/cpis",
    "REDIS_URL": "redis://redis:6379/0",
    "CELERY_BROKER_URL": "redis://redis:6379/1",
}


def manage(*args, env):
    # Only what a production host would have: nothing the test settings put in os.environ.
    clean = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={**clean, "DJANGO_SETTINGS_MODULE": "cpis.settings.base", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_values():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = manage("check", env={k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"})
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_production_settings_do_not_install_the_demo_unless_asked():
    # seed_demo creates users with published passwords: without DEBUG or DEMO the command must
    # not exist at all, not merely refuse.
    without = manage("help", "--commands", env=PRODUCTION_ENV)
    assert without.returncode == 0, without.stderr
    assert "seed_demo" not in without.stdout.split() and "totp_code" not in without.stdout.split()
    demo = manage("help", "--commands", env={**PRODUCTION_ENV, "DEMO": "true"})
    assert {"seed_demo", "totp_code"} <= set(demo.stdout.split())


def test_make_run_with_nothing_configured_loads_the_demo_on_sqlite(tmp_path):
    # The README's first command: no DATABASE_URL, no broker. The demo's checks go through the
    # same services as a clinician's, so this catches PostgreSQL-only code on that path.
    env = {"DEBUG": "true", "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}"}
    for command in (["migrate", "--no-input"], ["seed_demo"]):
        result = manage(*command, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
    counted = manage(
        "shell",
        "--verbosity=0",
        "-c",
        "from notifications.models import Notification; from attendances.models import Visit; "
        "print(Notification.objects.count(), Visit.objects.count())",
        env=env,
    )
    notifications, visits = map(int, counted.stdout.split())
    assert notifications > 0 and visits > 0


@pytest.mark.django_db
def test_seed_demo_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only with DEBUG on"):
        call_command("seed_demo")
    assert not User.objects.exists()


@pytest.mark.django_db
def test_seed_demo_with_force_creates_every_role_and_is_idempotent(settings):
    settings.DEBUG = False
    call_command("seed_demo", "--force")
    call_command("seed_demo", "--force")
    # The demo's LAs; a conformance run's synthetic ones (suppliers/) are not the demo's.
    assert Organisation.objects.filter(kind="local_authority", is_synthetic=False).count() == 3
    assert set(Organisation.objects.filter(kind="care_setting").values_list("setting_type", flat=True)) == {
        "ED",
        "MIU",
        "UTC",
    }
    held = set(User.objects.values_list("memberships__role", flat=True))
    assert held >= set(Role.values)
    assert User.objects.count() == len(set(User.objects.values_list("email", flat=True)))


@pytest.mark.django_db
def test_every_page_carries_a_strict_content_security_policy(client):
    response = client.get(reverse("accounts:login"))
    policy = response["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"].startswith("'self' 'nonce-")
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    nonce = directives["script-src"].split("'nonce-")[1].rstrip("'")
    assert f'<script nonce="{nonce}">' in response.content.decode()
    assert response["X-Frame-Options"] == "DENY"
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]


def test_demo_code_command_only_with_debug(settings, capsys):
    settings.DEBUG = True
    call_command("totp_code")
    assert capsys.readouterr().out.strip().isdigit()
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("totp_code")
