#!/usr/bin/env bash
# Create the hub's PostgreSQL role and database on this server and write the
# connection URL to /etc/accueil-hub/hub.env. Run as root, once:
#   sudo packaging/hub/setup-postgres.sh [--role accueil_hub] [--db accueil_hub]
# Running it again sets a new password and rewrites hub.env.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROLE=accueil_hub
DBNAME=accueil_hub
ENV_FILE=/etc/accueil-hub/hub.env

while [[ $# -gt 0 ]]; do
    case "$1" in
        --role) ROLE=${2:?}; shift 2 ;;
        --db) DBNAME=${2:?}; shift 2 ;;
        --env-file) ENV_FILE=${2:?}; shift 2 ;;
        -h|--help) sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "setup-postgres.sh: unknown option: $1" >&2; exit 2 ;;
    esac
done

# URL-safe, so it can go in FEDERATION_DB as it is
PASSWORD=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
# the token Prometheus sends for GET /metrics (federation.metrics)
METRICS_TOKEN=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')

runuser -u postgres -- psql --quiet -v ON_ERROR_STOP=1 -v role="$ROLE" -v dbname="$DBNAME" \
    -v password="$PASSWORD" -f "$HERE/postgres-setup.sql"

install -d -m 0750 "$(dirname "$ENV_FILE")"
umask 027
cat >"$ENV_FILE" <<ENV
# written by setup-postgres.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ)
FEDERATION_DB=postgresql://$ROLE:$PASSWORD@localhost/$DBNAME
FEDERATION_METRICS_TOKEN=$METRICS_TOKEN
LANG=C.UTF-8
TZ=Europe/Paris
# how long the pseudonymised events are kept (docs/deploy-hub.md, section 11):
# at least 12 x the window's years; unset, they are kept for ever
#FEDERATION_WINDOW_PAST_YEARS=3
#FEDERATION_RETENTION_MONTHS=36
ENV
if getent group accueil-hub >/dev/null; then
    chgrp accueil-hub "$ENV_FILE" "$(dirname "$ENV_FILE")"
fi
echo "PostgreSQL database $DBNAME ready; its URL is in $ENV_FILE"
