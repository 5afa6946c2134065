#!/usr/bin/env bash
# Install the Debian packages Accueil needs, only those missing.
#   scripts/system-deps.sh run    what the kiosk needs to open its window
#   scripts/system-deps.sh test   that, plus what the test suite drives
#                                 (Arabic font, chromium, postgresql)
set -euo pipefail

RUN_PACKAGES=(libegl1 libegl-mesa0 libgl1-mesa-dri libgl1 libmtdev1 fonts-noto-core fonts-droid-fallback
              fonts-noto-color-emoji fonts-material-design-icons-iconfont espeak-ng)
# shellcheck, systemd (systemd-analyze), cage and xwayland: tests/test_packaging.py;
# gettext (msgfmt --check): tests/ui/test_catalogues.py;
# xvfb, xdotool and x11-utils: the desktop window of tests/test_run_display.py
TEST_PACKAGES=(chromium postgresql poppler-utils shellcheck systemd cage xwayland gettext
               xvfb xdotool x11-utils)

wanted=("${RUN_PACKAGES[@]}")
if [[ "${1:-run}" == "test" ]]; then
    wanted+=("${TEST_PACKAGES[@]}")
fi

missing=()
for package in "${wanted[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    SUDO="sudo"
fi
echo "Installing Debian packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
