#!/usr/bin/env bash
# Build the Android package (APK) of the kiosk for tablets.
#   packaging/android/build.sh            debug APK in packaging/android/bin/
#   packaging/android/build.sh release    release AAB (sign it afterwards)
# Needs buildozer (pip install buildozer), a JDK 17 and the Android SDK/NDK
# that buildozer downloads on first run (several GB): it is not built in CI.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
STAGE="$HERE/app"

# buildozer packs one folder holding main.py: stage the app's packages there
rm -rf "$STAGE"
mkdir -p "$STAGE"
cp "$HERE/main.py" "$STAGE/"
cp -r "$REPO/kiosk" "$REPO/sync" "$STAGE/"
find "$STAGE" -name __pycache__ -prune -exec rm -rf {} +

cd "$HERE"
buildozer android "${1:-debug}"
