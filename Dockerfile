# One image for web, worker and beat (docker-compose.yml picks the command and, for the worker
# and beat, its own health check).
# Node only fetches the NHS.UK assets; 24 is the LTS line with the longest support left.
# --omit=dev: the demo's OpenID Connect provider (oidc-provider) stays out of the image.
FROM node:24-bookworm-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# 3.13: supported until October 2029 (3.11 ends in October 2027); `.python-version` makes the
# tests run on the same minor version wherever pyenv is installed.
FROM python:3.13-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=cpis.settings.base
WORKDIR /app
RUN useradd --create-home --uid 1000 cpis
COPY requirements.txt ./
# Exactly the lock: every package pinned, each download checked against its hash.
RUN pip install --no-cache-dir --require-hashes -r requirements.txt
COPY --from=assets /app/node_modules ./node_modules
# .dockerignore keeps tests, benchmarks, CI files, local state and the demo's fakes out
# (tests/test_image_contents.py checks what this copies).
COPY . .
# collectstatic needs a key to import settings; the real one comes from the environment at run time.
RUN SECRET_KEY=build-only-not-secret python manage.py collectstatic --no-input
USER cpis
EXPOSE 8000
# As the proxy would ask: a served host name (the first of ALLOWED_HOSTS; a wildcard becomes a
# name it matches), already over HTTPS, else the answer is a redirect or a 400.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["python", "-c", "import os, urllib.request; host = os.environ.get('ALLOWED_HOSTS', 'localhost').split(',')[0].strip().lstrip('*.') or 'localhost'; urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:8000/livez', headers={'Host': host, 'X-Forwarded-Proto': 'https'}), timeout=5)"]
CMD ["gunicorn", "-c", "python:cpis.gunicorn", "cpis.wsgi"]
