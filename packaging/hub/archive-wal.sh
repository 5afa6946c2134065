#!/usr/bin/env bash
# PostgreSQL's archive_command for point-in-time recovery: copy one finished
# WAL segment into the archive folder, safely.
#   archive_command = '/opt/accueil-hub/packaging/archive-wal.sh %p %f /var/backups/accueil-hub/wal'
# The copy is written under a temporary name, flushed to disk and renamed, so
# the archive never holds half a segment. A segment already archived with the
# same content is success (PostgreSQL may ask again after a crash); with
# another content it is an error, and PostgreSQL keeps the segment and retries
# rather than lose either copy. A non-zero exit makes PostgreSQL retry later.
set -euo pipefail

if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
    sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
fi
if [[ $# -ne 3 ]]; then
    echo "archive-wal.sh: give the segment's path (%p), its name (%f) and the archive folder" >&2
    exit 2
fi
SOURCE=$1
NAME=$2
ARCHIVE=$3
if [[ "$NAME" == */* || "$NAME" == .* ]]; then
    echo "archive-wal.sh: '$NAME' is not a WAL file name" >&2
    exit 2
fi

target="$ARCHIVE/$NAME"
if [[ -e "$target" ]]; then
    if cmp -s "$SOURCE" "$target"; then
        exit 0
    fi
    echo "archive-wal.sh: $target exists with another content: not overwritten" >&2
    exit 1
fi
partial="$ARCHIVE/.$NAME.partial"
trap 'rm -f "$partial"' EXIT
cp "$SOURCE" "$partial"
sync "$partial"
mv "$partial" "$target"
sync "$ARCHIVE"
