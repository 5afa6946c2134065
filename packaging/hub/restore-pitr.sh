#!/usr/bin/env bash
# Prepare a PostgreSQL data folder for point-in-time recovery: a base backup
# (base-backup.sh) unpacked, then the archived WAL (archive-wal.sh) replayed
# up to a moment, when PostgreSQL starts on it.
#   restore-pitr.sh --base DIR --archive DIR [--target-time TIME] --yes DATADIR
# TIME is a PostgreSQL timestamp with its zone ('2026-11-26 14:05:00+01');
# without it, everything archived is replayed. DATADIR must be absent or
# empty: stop PostgreSQL and move the damaged folder aside first. Run it as
# the postgres user, then start PostgreSQL: it replays, stops at TIME and
# opens the database for writing (a new timeline). See docs/deploy-hub.md.
set -euo pipefail

BASE=""
ARCHIVE=""
TARGET=""
CONFIRMED=0
DATA=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --base) BASE=${2:?--base needs a folder}; shift 2 ;;
        --archive) ARCHIVE=${2:?--archive needs a folder}; shift 2 ;;
        --target-time) TARGET=${2:?--target-time needs a time}; shift 2 ;;
        --yes) CONFIRMED=1; shift ;;
        -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "restore-pitr.sh: unknown option: $1" >&2; exit 2 ;;
        *) DATA=$1; shift ;;
    esac
done
if [[ -z "$BASE" || -z "$ARCHIVE" || -z "$DATA" ]]; then
    echo "restore-pitr.sh: give the base backup (--base), the WAL archive (--archive) and the data folder (see --help)" >&2
    exit 2
fi
if [[ ! -r "$BASE/base.tar.gz" ]]; then
    echo "restore-pitr.sh: '$BASE' holds no base.tar.gz: not a base backup made by base-backup.sh" >&2
    exit 2
fi
if [[ ! -d "$ARCHIVE" ]]; then
    echo "restore-pitr.sh: the WAL archive '$ARCHIVE' is not a folder" >&2
    exit 2
fi
ARCHIVE=$(realpath "$ARCHIVE")
# both go into postgresql.conf's quoted strings
if [[ "$ARCHIVE" == *"'"* || "$ARCHIVE" == *'"'* || "$TARGET" == *"'"* ]]; then
    echo "restore-pitr.sh: quotes are not allowed in the archive folder or the time" >&2
    exit 2
fi
if [[ -n "$TARGET" && ! "$TARGET" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}[T\ ][0-9:.]+([+-][0-9:]+|Z|\ UTC)?$ ]]; then
    echo "restore-pitr.sh: '$TARGET' is not a time like '2026-11-26 14:05:00+01'" >&2
    exit 2
fi
if [[ -e "$DATA" && -n "$(ls -A "$DATA")" ]]; then
    echo "restore-pitr.sh: '$DATA' is not empty: move the old data folder aside first" >&2
    exit 2
fi
if [[ $CONFIRMED -ne 1 ]]; then
    echo "restore-pitr.sh: this builds a database from the backup; add --yes to go on" >&2
    exit 2
fi

install -d -m 0700 "$DATA"
tar -xzf "$BASE/base.tar.gz" -C "$DATA"
if [[ -r "$BASE/pg_wal.tar.gz" ]]; then
    tar -xzf "$BASE/pg_wal.tar.gz" -C "$DATA/pg_wal"
fi
{
    echo "# written by restore-pitr.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ): remove after the recovery"
    echo "restore_command = 'cp \"$ARCHIVE/%f\" \"%p\"'"
    if [[ -n "$TARGET" ]]; then
        echo "recovery_target_time = '$TARGET'"
    fi
    echo "recovery_target_action = 'promote'"
} >>"$DATA/postgresql.auto.conf"
touch "$DATA/recovery.signal"
echo "Data folder $DATA ready: start PostgreSQL on it to replay${TARGET:+ up to $TARGET}."
