#!/usr/bin/env bash
# Run once by the postgres image's entrypoint, on the first start with an empty
# data volume (files in /docker-entrypoint-initdb.d are ignored afterwards).
#
# Roles:
#   $POSTGRES_USER (collectpro_owner)  created by the image; owns every table and
#                                       runs migrations (the "migrate" service).
#   collectpro_app                      created here; the login role of web, worker
#                                       and beat. It owns nothing and cannot bypass
#                                       row-level security. Table privileges are
#                                       granted by the RLS migration (TENANCY_APP_ROLE).
#
# The password comes from $APP_DB_PASSWORD and is passed as a psql variable, so it
# is quoted by psql (:'var') rather than pasted into SQL text.
set -euo pipefail

: "${APP_DB_PASSWORD:?APP_DB_PASSWORD must be set for the postgres service}"
APP_DB_ROLE=${APP_DB_ROLE:-collectpro_app}

psql -v ON_ERROR_STOP=1 \
     --username "$POSTGRES_USER" \
     --dbname "$POSTGRES_DB" \
     -v app_role="$APP_DB_ROLE" \
     -v app_password="$APP_DB_PASSWORD" <<'EOSQL'
-- Create the application role if it does not exist yet (idempotent).
SELECT format('CREATE ROLE %I', :'app_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_role')
\gexec

-- (Re)apply its attributes: a plain login role, never superuser, never exempt from RLS.
ALTER ROLE :"app_role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS
    PASSWORD :'app_password';

-- It may connect and see the schema, but not create objects in it.
GRANT CONNECT ON DATABASE :"DBNAME" TO :"app_role";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app_role";
EOSQL

echo "postgres-init: role $APP_DB_ROLE ready in database $POSTGRES_DB"
