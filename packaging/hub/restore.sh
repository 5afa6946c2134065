#!/usr/bin/env bash
# Replace the hub's database with a dump made by backup.sh.
#   restore.sh --db CONNINFO --yes DUMPFILE
# CONNINFO should be the hub's own URL (FEDERATION_DB in hub.env) so the
# restored tables belong to the hub's role. Stop the hub first
# (systemctl stop accueil-hub.target); start it after. The restore runs in
# one transaction: if anything fails, the database is left as it was.
set -euo pipefail

DB=""
CONFIRMED=0
DUMP=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --db) DB=${2:?--db needs a value}; shift 2 ;;
        --yes) CONFIRMED=1; shift ;;
        -h|--help) sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "restore.sh: unknown option: $1" >&2; exit 2 ;;
        *) DUMP=$1; shift ;;
    esac
done
if [[ -z "$DB" || -z "$DUMP" ]]; then
    echo "restore.sh: give the database (--db) and the dump file (see --help)" >&2
    exit 2
fi
if [[ ! -r "$DUMP" ]]; then
    echo "restore.sh: cannot read the dump file '$DUMP'" >&2
    exit 2
fi
# a wrong file must fail before anything is dropped
if ! pg_restore --list "$DUMP" >/dev/null; then
    echo "restore.sh: '$DUMP' is not a pg_dump custom-format file" >&2
    exit 2
fi
if [[ $CONFIRMED -ne 1 ]]; then
    echo "restore.sh: this replaces every table of the hub's database; add --yes to go on" >&2
    exit 2
fi
DB=${DB/postgresql+psycopg:/postgresql:}
# One transaction: the dump's clean-up, then its tables and rows; an error
# leaves the database as it was. The events table is partitioned by month:
# pg_restore --clean would drop its partitions' inherited constraints one by
# one, which PostgreSQL refuses, so the table and its partitions go first.
{
    echo "DROP TABLE IF EXISTS events CASCADE;"
    pg_restore --clean --if-exists --no-owner --no-acl --file=- "$DUMP"
} | psql --single-transaction --quiet -v ON_ERROR_STOP=1 --dbname="$DB" >/dev/null
echo "restored $DUMP"
