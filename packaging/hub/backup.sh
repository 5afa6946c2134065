#!/usr/bin/env bash
# Dump the hub's database with pg_dump (custom format, compressed) into a
# dated file, and keep the newest ones only.
#   backup.sh [--db CONNINFO] [--to DIR] [--keep N]
# CONNINFO is a libpq URL or a database name (default: $BACKUP_DB, else
# accueil_hub over the local socket, as the postgres user in the systemd unit).
# The dump is written under a temporary name and renamed when complete, so a
# file named hub-*.dump is never half-written.
set -euo pipefail

DB=${BACKUP_DB:-accueil_hub}
DEST=${BACKUP_DIR:-/var/backups/accueil-hub}
KEEP=${BACKUP_KEEP:-30}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --db) DB=${2:?--db needs a value}; shift 2 ;;
        --to) DEST=${2:?--to needs a folder}; shift 2 ;;
        --keep) KEEP=${2:?--keep needs a number}; shift 2 ;;
        -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "backup.sh: unknown option: $1" >&2; exit 2 ;;
    esac
done
if ! [[ "$KEEP" =~ ^[1-9][0-9]*$ ]]; then
    echo "backup.sh: --keep must be a whole number of at least 1, not '$KEEP'" >&2
    exit 2
fi
# SQLAlchemy's driver prefix means nothing to libpq
DB=${DB/postgresql+psycopg:/postgresql:}

install -d -m 0700 "$DEST"
target="$DEST/hub-$(date -u +%Y%m%dT%H%M%SZ).dump"
partial="$target.partial"
trap 'rm -f "$partial"' EXIT
pg_dump --format=custom --no-owner --no-acl --file="$partial" --dbname="$DB"
mv "$partial" "$target"
echo "$target"

# newest first; everything after the KEEP newest goes
mapfile -t dumps < <(find "$DEST" -maxdepth 1 -name 'hub-*.dump' -printf '%f\n' | sort -r)
for old in "${dumps[@]:KEEP}"; do
    rm -f "$DEST/$old"
done
