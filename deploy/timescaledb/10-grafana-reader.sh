#!/bin/sh
# Runs once, when the TimescaleDB container initialises an empty volume
# (mounted into /docker-entrypoint-initdb.d). Creates the read-only role
# Grafana's datasource logs in with: panel SQL runs with its rights, so it
# may read every smartpole table, now and after later migrations, and
# change nothing. The password comes in as a psql variable, never spliced
# into SQL text by the shell.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v reader_password="$GRAFANA_DB_PASSWORD" -v owner="$POSTGRES_USER" -v dbname="$POSTGRES_DB" <<'SQL'
CREATE ROLE grafana_ro LOGIN PASSWORD :'reader_password';
GRANT CONNECT ON DATABASE :"dbname" TO grafana_ro;
GRANT USAGE ON SCHEMA public TO grafana_ro;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO grafana_ro;
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO grafana_ro;
SQL
