#!/bin/sh
# Creates CP-IS's database and its three roles (README "Database roles"). docker-compose mounts this
# into the postgres image's /docker-entrypoint-initdb.d/, which runs it once, as the superuser,
# when the data volume is new; any other deployment runs it once the same way:
#   POSTGRES_USER=postgres CPIS_OWNER_PASSWORD=… CPIS_APP_PASSWORD=… CPIS_BACKUP_PASSWORD=… sh deploy/postgres/init-roles.sh
# - the owner role owns the database and its tables: `migrate` connects as it, nothing else does;
# - the application role (web, worker, beat) owns nothing: `migrate` grants it read and write on
#   every table, and only SELECT and INSERT on the audit table;
# - the backup role (`manage.py backup_database`) owns nothing and writes nothing: `migrate` grants
#   it SELECT on every table, sequence and audit partition, present and future.
set -eu
: "${CPIS_DB:=cpis}" "${CPIS_OWNER:=cpis_owner}" "${CPIS_APP:=cpis_app}" "${CPIS_BACKUP:=cpis_backup}"
: "${CPIS_OWNER_PASSWORD:?set CPIS_OWNER_PASSWORD}" "${CPIS_APP_PASSWORD:?set CPIS_APP_PASSWORD}"
: "${CPIS_BACKUP_PASSWORD:?set CPIS_BACKUP_PASSWORD}"

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  -v db="$CPIS_DB" -v owner="$CPIS_OWNER" -v app="$CPIS_APP" -v backup="$CPIS_BACKUP" \
  -v owner_password="$CPIS_OWNER_PASSWORD" -v app_password="$CPIS_APP_PASSWORD" \
  -v backup_password="$CPIS_BACKUP_PASSWORD" <<'SQL'
CREATE ROLE :"owner" LOGIN PASSWORD :'owner_password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE ROLE :"app" LOGIN PASSWORD :'app_password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
CREATE ROLE :"backup" LOGIN PASSWORD :'backup_password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
-- A second line behind its SELECT-only grants: every transaction it starts is read-only.
ALTER ROLE :"backup" SET default_transaction_read_only = on;
CREATE DATABASE :"db" OWNER :"owner";
-- Nobody else may connect; the application may also make the upload's temporary staging table.
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"app";
GRANT CONNECT ON DATABASE :"db" TO :"backup";
SQL
