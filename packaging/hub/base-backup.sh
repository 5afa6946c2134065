#!/usr/bin/env bash
# Take a base backup of the hub's PostgreSQL cluster with pg_basebackup, for
# point-in-time recovery with the WAL that archive-wal.sh archives.
#   base-backup.sh [--db CONNINFO] [--to DIR] [--keep N] [--archive DIR]
# Writes DIR/base-YYYYMMDDTHHMMSSZ/ (base.tar.gz, pg_wal.tar.gz,
# backup_manifest), under a temporary name renamed when complete, and keeps
# the newest N (default 7). With --archive, the archived WAL older than the
# oldest base backup kept is removed (pg_archivecleanup): nothing can replay it.
# CONNINFO must be a role with the REPLICATION attribute (default: the local
# socket as the user running it, postgres in accueil-hub-base-backup.service).
set -euo pipefail

DB=${BASE_BACKUP_DB:-}
DEST=${BASE_BACKUP_DIR:-/var/backups/accueil-hub/base}
KEEP=${BASE_BACKUP_KEEP:-7}
ARCHIVE=${WAL_ARCHIVE_DIR:-}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --db) DB=${2:?--db needs a value}; shift 2 ;;
        --to) DEST=${2:?--to needs a folder}; shift 2 ;;
        --keep) KEEP=${2:?--keep needs a number}; shift 2 ;;
        --archive) ARCHIVE=${2:?--archive needs a folder}; shift 2 ;;
        -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "base-backup.sh: unknown option: $1" >&2; exit 2 ;;
    esac
done
if ! [[ "$KEEP" =~ ^[1-9][0-9]*$ ]]; then
    echo "base-backup.sh: --keep must be a whole number of at least 1, not '$KEEP'" >&2
    exit 2
fi
DB=${DB/postgresql+psycopg:/postgresql:}
connection=()
if [[ -n "$DB" ]]; then
    connection=(--dbname="$DB")
fi

install -d -m 0700 "$DEST"
target="$DEST/base-$(date -u +%Y%m%dT%H%M%SZ)"
partial="$target.partial"
if [[ -e "$target" || -e "$partial" ]]; then
    echo "base-backup.sh: $target exists already (one base backup a second at most)" >&2
    exit 1
fi
trap 'rm -rf "$partial"' EXIT
# tar and gzip: two files to copy off the server; the WAL written during the
# copy comes with it (pg_wal.tar.gz), so the backup is whole even without the archive
pg_basebackup "${connection[@]}" --pgdata="$partial" --format=tar --gzip \
    --wal-method=stream --checkpoint=fast --no-password
mv -T "$partial" "$target"
echo "$target"

mapfile -t bases < <(find "$DEST" -maxdepth 1 -name 'base-*' ! -name '*.partial' -printf '%f\n' | sort -r)
for old in "${bases[@]:KEEP}"; do
    rm -rf "${DEST:?}/$old"
done
if [[ -n "$ARCHIVE" ]]; then
    # the first WAL still needed is where the oldest base kept started, as its
    # own backup_label says (the archiver may not have copied the newest
    # .backup history file yet, so the archive's listing cannot say it)
    count=${#bases[@]}
    (( count > KEEP )) && count=$KEEP
    oldest="$DEST/${bases[count - 1]}/base.tar.gz"
    first=$(tar -xzOf "$oldest" backup_label \
        | sed -n 's/^START WAL LOCATION: .* (file \([0-9A-F]\{24\}\))$/\1/p')
    if [[ -n "$first" ]]; then
        pg_archivecleanup "$ARCHIVE" "$first"
    else
        echo "base-backup.sh: no start WAL in $oldest: the archive is left as it is" >&2
    fi
fi
