#!/usr/bin/env bash
# Runs once, when the postgresql volume is first initialised (docker-entrypoint-initdb.d).
#
# Two owners, two concerns:
#   temporal  — Temporal's persistence; auto-setup creates its databases `temporal` and
#               `temporal_visibility` itself, so the role only needs CREATEDB.
#   zhongshu  — Zhongshu's read model, database `zhongshu`, schema managed by `zhongshu db migrate`.
# Passwords come from the environment of the postgresql service (see docker-compose.yml).
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" \
     -v temporal_pw="${TEMPORAL_DB_PASSWORD:-temporal}" \
     -v zhongshu_pw="${ZHONGSHU_DB_PASSWORD:-zhongshu}" <<'SQL'
CREATE ROLE temporal WITH LOGIN CREATEDB PASSWORD :'temporal_pw';
CREATE ROLE zhongshu WITH LOGIN PASSWORD :'zhongshu_pw';
CREATE DATABASE zhongshu OWNER zhongshu ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE zhongshu FROM PUBLIC;
GRANT ALL PRIVILEGES ON DATABASE zhongshu TO zhongshu;
SQL
