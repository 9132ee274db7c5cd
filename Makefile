# The two commands a newcomer needs: `make run` (the demo) and `make test` (the whole suite).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test test-fast lint secrets-baseline audit lock bench install clean backup restore css

# From the lock alone: every package pinned and checked against its hash (pip included), and
# installed again whenever a lock changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --require-hashes -r requirements-dev.txt
	touch $@

# mesh-sandbox (the local MESH server of the demo and the tests) in its own virtualenv, from its
# own hashed lock: it pins an older gunicorn than the service.
.venv-mesh/.installed: requirements-mesh-sandbox.txt
	python3 -m venv .venv-mesh
	.venv-mesh/bin/pip install --quiet --require-hashes -r requirements-mesh-sandbox.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

install: $(VENV)/.installed .venv-mesh/.installed node_modules/.installed

# Without DATABASE_URL / CELERY_BROKER_URL this runs on SQLite with tasks in-process;
# with them it runs on PostgreSQL and Redis with a separate worker (and beat). Beside it, a local
# OpenID Connect provider (ports 9400 and 9401) for the single sign-on demo, and a local MESH
# (mesh-sandbox on 8791, store in var/mesh) with our mailbox and the demo LAs' (docs/la-interface.md).
DEMO_MESH := MESH_URL=http://127.0.0.1:8791 MESH_MAILBOX_ID=X26CPIS01 MESH_PASSWORD=password MESH_SHARED_KEY=SandboxKey
run: install
	DEBUG=true $(PY) manage.py migrate --no-input
	DEBUG=true $(PY) manage.py seed_demo
	@trap 'kill 0' EXIT; \
	$(PY) -m demo.mesh.sandbox --port 8791 --dir var/mesh X26CPIS01 LA001MB01 LA002MB01 & \
	export $(DEMO_MESH); \
	node demo/single_sign_on/provider.mjs demo/single_sign_on/provider.json & \
	if [ -n "$$CELERY_BROKER_URL" ]; then \
		DEBUG=true $(VENV)/bin/celery -A cpis worker --beat --loglevel=INFO & \
	fi; \
	DEBUG=true $(PY) manage.py runserver 127.0.0.1:8000

# The whole suite against PostgreSQL and Redis (defaults: the local servers, see cpis/settings/test.py).
test: install
	DJANGO_SETTINGS_MODULE=cpis.settings.test $(PY) manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=cpis.settings.test $(VENV)/bin/pytest --cov --cov-report=
	# The check, the upload, the outbox and the inbox again on SQLite, as `make run` serves them.
	DJANGO_SETTINGS_MODULE=cpis.settings.test_sqlite $(VENV)/bin/pytest -q -m "sqlite and not postgresql" --cov --cov-append --cov-report=
	@echo "Coverage: $$($(VENV)/bin/coverage report --format=total)% of the project's lines ran (tests/, bench/ and migrations not counted)"

# The suite without the browser tests (Chromium) and the tests that start real Celery workers:
# for the edit-test loop. `make test` before pushing still runs them all.
test-fast: install
	DJANGO_SETTINGS_MODULE=cpis.settings.test $(VENV)/bin/pytest -m "not browser and not worker"

# The NHS.UK CSS with and without @font-face (NHSUK_FONTS_FROM_NHS), committed: the image's
# assets stage installs no sass. tests/core/test_fonts.py fails when a committed file is stale.
css:
	for name in nhsuk-frontend-system-fonts nhsuk-frontend-nhs-fonts; do \
		node_modules/.bin/sass --no-source-map --style=compressed --quiet --load-path=node_modules \
			static/cpis/$$name.scss static/cpis/$$name.min.css || exit 1; \
	done

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/djlint templates --lint
	$(VENV)/bin/lint-imports
	DJANGO_SETTINGS_MODULE=cpis.settings.test $(VENV)/bin/pytest -q tests/test_architecture.py
	$(VENV)/bin/mypy .
	@# Every tracked file against the audited baseline; a new secret fails (status 1). Against a
	@# copy: lines that only moved make the hook rewrite its baseline (status 3), not a failure.
	@copy=$$(mktemp) && cp .secrets.baseline $$copy && \
	$(VENV)/bin/detect-secrets-hook --baseline $$copy $$(git ls-files | grep -vx .secrets.baseline) > $$copy.out; \
	status=$$?; [ $$status -eq 3 ] || cat $$copy.out; rm -f $$copy $$copy.out; [ $$status -eq 0 ] || [ $$status -eq 3 ]
	@# The Kubernetes overlay rendered offline and every object checked against the API schema.
	set -o pipefail; $(PY) deploy/kubernetes/render.py deploy/kubernetes/overlays/production \
		deploy/kubernetes/secrets.example.yaml | node deploy/kubernetes/validate.mjs
	@# Every migration backward-compatible with the release before it (docs/deployment.md).
	DJANGO_SETTINGS_MODULE=cpis.settings.migration_lint $(PY) manage.py lintmigrations --quiet ok ignore warning

# After the secret scan flags a fake secret (a test's or the demo's): rescan into the baseline,
# keeping what was audited, then `$(VENV)/bin/detect-secrets audit .secrets.baseline` to mark it.
secrets-baseline: install
	$(VENV)/bin/detect-secrets scan --baseline .secrets.baseline

# Known vulnerabilities in every locked package, runtime and development, from PyPI's advisories.
# --strict: a package it could not look up fails the audit, rather than passing unchecked.
audit: install
	$(VENV)/bin/pip-audit --strict --vulnerability-service pypi --require-hashes --disable-pip \
		-r requirements.txt -r requirements-dev.txt

# After editing requirements.in or requirements-dev.in: re-resolve the locks, keeping every pin
# that still fits. Against PyPI alone (no local wheel folder or mirror from pip's configuration),
# so the hashes are those that every machine and the Docker build download.
PIP_COMPILE := env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock" \
	$(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links
lock: install
	$(PIP_COMPILE) --output-file=requirements.txt requirements.in
	$(PIP_COMPILE) --output-file=requirements-dev.txt requirements-dev.in
	$(PIP_COMPILE) --output-file=requirements-mesh-sandbox.txt requirements-mesh-sandbox.in

bench: install
	DJANGO_SETTINGS_MODULE=cpis.settings.test $(PY) -m bench

# A pg_dump into var/backups/ (or BACKUP=path) as the read-only backup role, DATABASE_BACKUP_URL
# (else DATABASE_URL); it holds personal data.
backup: install
	$(PY) manage.py backup_database $(if $(BACKUP),--output $(BACKUP))

# Restores BACKUP into the empty database RESTORE_DATABASE_URL (never over a live one).
restore: install
	@test -n "$(BACKUP)" -a -n "$(RESTORE_DATABASE_URL)" || { echo "usage: make restore BACKUP=file RESTORE_DATABASE_URL=postgres://…/new_db"; exit 2; }
	$(PY) manage.py restore_database "$(BACKUP)" --database-url "$(RESTORE_DATABASE_URL)"
	DATABASE_URL="$(RESTORE_DATABASE_URL)" $(PY) manage.py migrate --check

clean:
	rm -rf $(VENV) .venv-mesh node_modules staticfiles var .coverage
