#!/usr/bin/env bash
# Redraw the guides' screenshots (docs/images/*.png) with `kiosk screenshot`
# on a fresh demo centre, offscreen (no display needed):
#   docs/make-screenshots.sh [path/to/kiosk]
set -euo pipefail

KIOSK=${1:-kiosk}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

"$KIOSK" demo --db "$WORK/demo.db" --members 60 --visits 200 >/dev/null
for screen in home checkin reason confirmation workshops workshop first_visit consent card pin \
              volunteer staff_home staff_sync staff_exports staff_privacy; do
    "$KIOSK" screenshot --db "$WORK/demo.db" --screen "$screen" --out "$HERE/images/$screen.png" >/dev/null
done
"$KIOSK" screenshot --db "$WORK/demo.db" --screen home --lang ar --out "$HERE/images/home-ar.png" >/dev/null
ls "$HERE/images"
