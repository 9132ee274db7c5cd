"""The deployment descriptions as an operator uses them (issue 31 item 5): the Kubernetes overlay
renders and validates against the API schema, and a broken manifest fails that validation;
docker-compose.yml scales web and the workers behind a proxy that asks /readyz; the migration
lint passes on the tree and fails on a flagged migration outside the baseline.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
KUBERNETES = ROOT / "deploy" / "kubernetes"
PRODUCTION = KUBERNETES / "overlays" / "production"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SCALED = ("web", "worker", "worker-inbox", "worker-email", "worker-webhook")


def _needs(program: str) -> None:
    if shutil.which(program) is None:
        pytest.fail(f"{program} is needed to check the deployment descriptions")


def validate(kustomization: Path, *extra: Path) -> subprocess.CompletedProcess:
    """`make lint`'s check: render offline, then validate every object."""
    _needs("kubectl")
    _needs("node")
    rendered = subprocess.run(
        [sys.executable, str(KUBERNETES / "render.py"), str(kustomization), *map(str, extra)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return subprocess.run(
        ["node", str(KUBERNETES / "validate.mjs")],
        input=rendered.stdout, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip


def rendered_objects() -> list[dict]:
    out = subprocess.run(["kubectl", "kustomize", str(PRODUCTION)], capture_output=True, text=True, check=True)
    return [o for o in yaml.safe_load_all(out.stdout) if o]


def test_the_production_overlay_and_the_secrets_template_are_valid():
    result = validate(PRODUCTION, KUBERNETES / "secrets.example.yaml")
    assert result.returncode == 0, result.stderr
    secrets = [o for o in yaml.safe_load_all((KUBERNETES / "secrets.example.yaml").read_text()) if o]
    assert f"{len(rendered_objects()) + len(secrets)} objects valid" in result.stdout


def test_a_broken_manifest_fails_the_validation(tmp_path):
    # An overlay of the base whose web Deployment has a replica count in words and a container
    # without a name: both refused by the API schema.
    overlay = tmp_path / "broken"
    overlay.mkdir()
    base = os.path.relpath(KUBERNETES / "base", overlay)
    (overlay / "kustomization.yaml").write_text(
        f"resources: [{base}]\n"
        "patches:\n"
        "  - target: {kind: Deployment, name: cpis-beat}\n"
        "    patch: |-\n"
        "      - {op: replace, path: /spec/replicas, value: two}\n"
        "      - {op: remove, path: /spec/template/spec/containers/0/name}\n"
    )
    result = validate(overlay)
    assert result.returncode == 1
    assert "Deployment/cpis-beat" in result.stderr
    assert "/spec/replicas must be integer" in result.stderr
    assert "must have required property 'name'" in result.stderr or "required property name" in result.stderr


def test_an_unknown_kind_fails_the_validation():
    _needs("node")
    result = subprocess.run(
        ["node", str(KUBERNETES / "validate.mjs")],
        input=json.dumps([{"apiVersion": "v1", "kind": "Sevice", "metadata": {"name": "typo"}}]),
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Sevice/typo: no schema" in result.stderr


def test_the_overlay_runs_every_process_as_compose_does():
    objects = rendered_objects()
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    commands = {name: d["spec"]["template"]["spec"]["containers"][0]["command"] for name, d in deployments.items()}
    compose_commands = {name: service["command"] for name, service in COMPOSE["services"].items() if "build" in service}
    for name, command in compose_commands.items():
        if name == "migrate":
            continue
        assert commands[f"cpis-{name}"] == command, name
    assert deployments["cpis-beat"]["spec"]["replicas"] == 2
    web = deployments["cpis-web"]["spec"]["template"]["spec"]["containers"][0]
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert {"name": "Host", "value": "cpis.nhs.uk"} in web["readinessProbe"]["httpGet"]["httpHeaders"]
    (budget,) = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    assert budget["spec"]["selector"]["matchLabels"] == deployments["cpis-web"]["spec"]["selector"]["matchLabels"]
    (job,) = [o for o in objects if o["kind"] == "Job"]
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "cpis-owner"
    # No credential in a ConfigMap: every one comes from a Secret.
    (config,) = [o for o in objects if o["kind"] == "ConfigMap"]
    assert not [k for k in config["data"] if k.endswith(("_URL", "KEY", "PASSWORD", "TOKEN", "DSN"))
                and k not in ("SITE_URL",)]  # fmt: skip
    for name, deployment in deployments.items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert container["resources"]["requests"]["cpu"], name
            assert container["resources"]["requests"]["memory"], name


def test_compose_scales_web_and_workers_behind_a_proxy_asking_readyz():
    for name in SCALED:
        service = COMPOSE["services"][name]
        assert "container_name" not in service, name
        assert "ports" not in service, name
    proxy = COMPOSE["services"]["proxy"]
    assert sorted(proxy["ports"]) == ["443:443", "80:80"]
    caddyfile = (ROOT / "deploy" / "caddy" / "Caddyfile").read_text()
    assert "dynamic a web 8000" in caddyfile
    assert "health_uri /readyz" in caddyfile
    # Only the proxy may set X-Forwarded-For for web: web trusts the network only they share.
    assert COMPOSE["services"]["web"]["environment"]["TRUSTED_PROXIES"] == "${CPIS_EDGE_SUBNET:-172.31.250.0/24}"
    assert set(proxy["networks"]) == {"edge"}
    others = [
        n for n, s in COMPOSE["services"].items() if n not in ("web", "proxy") and "edge" in s.get("networks", [])
    ]
    assert others == []


def _lint(**env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "lintmigrations", "--quiet", "ok", "ignore", "warning"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "cpis.settings.migration_lint", **env},
    )  # fmt: skip


def test_the_migration_lint_passes_and_a_flagged_migration_outside_the_baseline_fails(tmp_path):
    passed = _lint()
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Erroneous migrations: 0/" in passed.stdout
    # The same lint with one baseline entry taken out: that migration is flagged again.
    settings_dir = tmp_path / "lint_settings"
    settings_dir.mkdir()
    (settings_dir / "without_one.py").write_text(
        "from cpis.settings.migration_lint import *  # noqa\n"
        "MIGRATION_LINTER_OPTIONS = {**MIGRATION_LINTER_OPTIONS, 'ignore_name': [\n"
        "    n for n in MIGRATION_LINTER_OPTIONS['ignore_name'] if n != '0008_webhook_test_delivery']}\n"
    )
    failed = _lint(
        DJANGO_SETTINGS_MODULE="without_one",
        PYTHONPATH=f"{settings_dir}{os.pathsep}{ROOT}",
    )
    assert failed.returncode == 1
    assert "(notifications, 0008_webhook_test_delivery)... ERR" in failed.stdout
    assert "NOT NULL constraint on columns" in failed.stdout


def test_the_compose_proxy_configuration_is_one_caddy_accepts():
    if shutil.which("caddy") is None:
        pytest.skip("caddy is not installed (apt-get install caddy)")
    adapted = subprocess.run(
        ["caddy", "adapt", "--config", str(ROOT / "deploy" / "caddy" / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "CPIS_HOSTNAME": "cpis.example.nhs.uk"},
    )  # fmt: skip
    assert adapted.returncode == 0, adapted.stderr
    proxy = json.loads(adapted.stdout)["apps"]["http"]["servers"]["srv0"]["routes"][0]["handle"][0]["routes"][0]
    (handler,) = proxy["handle"]
    assert handler["dynamic_upstreams"] == {"name": "web", "port": "8000", "refresh": 5_000_000_000, "source": "a"}
    assert handler["health_checks"]["active"]["uri"] == "/readyz"
    assert handler["health_checks"]["active"]["headers"]["Host"] == ["cpis.example.nhs.uk"]
