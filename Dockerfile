# One image for web, worker and beat (docker-compose.yml picks the command).
FROM node:20-bookworm-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=cpis.settings.base
WORKDIR /app
RUN useradd --create-home --uid 1000 cpis
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY --from=assets /app/node_modules ./node_modules
COPY . .
# collectstatic needs a key to import settings; the real one comes from the environment at run time.
RUN SECRET_KEY=build-only-not-secret python manage.py collectstatic --no-input
USER cpis
EXPOSE 8000
CMD ["gunicorn", "-c", "python:cpis.gunicorn", "cpis.wsgi"]
