#!/usr/bin/env bash
# Install or upgrade the federation hub on a Debian 12 server.
#   sudo packaging/hub/install-hub.sh [--from SOURCE] [--processes N]
#   packaging/hub/install-hub.sh --root /tmp/stage   lay the files out only
#   packaging/hub/install-hub.sh --dry-run           print every step
# Then, the first time: sudo packaging/hub/setup-postgres.sh, and a reverse
# proxy (Caddyfile or nginx-accueil-hub.conf). See docs/deploy-hub.md.
# An upgrade is the same command: the processes restart one after the other
# and the first one to start migrates the database.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE_TREE=$(cd "$HERE/../.." && pwd)
APP_USER=accueil-hub
APP_DIR=/opt/accueil-hub
CONF_DIR=/etc/accueil-hub
UNIT_DIR=/etc/systemd/system
UNITS=(accueil-hub@.service accueil-hub.target accueil-hub-backup.service accueil-hub-backup.timer
       accueil-hub-base-backup.service accueil-hub-base-backup.timer)
# the fonts: the PDF report's text, and its fallbacks for other scripts and emoji
PACKAGES=(python3 python3-venv postgresql postgresql-client fonts-noto-core fonts-droid-fallback
          fonts-noto-color-emoji)
FIRST_PORT=8081

ROOT=""
DRY_RUN=0
WITH_APT=1
PROCESSES=2
FROM=""
PIP_ARGS=()

while [[ $# -gt 0 ]]; do
    case "$1" in
        --from) FROM=${2:?}; shift 2 ;;
        --root) ROOT=$(realpath -m "${2:?}"); shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        --no-apt) WITH_APT=0; shift ;;
        --processes) PROCESSES=${2:?}; shift 2 ;;
        --pip-args) read -r -a PIP_ARGS <<<"${2:?}"; shift 2 ;;
        -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install-hub.sh: unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
FROM=${FROM:-$SOURCE_TREE}
if ! [[ "$PROCESSES" =~ ^[1-9][0-9]?$ ]]; then
    echo "install-hub.sh: --processes must be a number from 1 to 99, not '$PROCESSES'" >&2
    exit 2
fi
if [[ -z "$ROOT" && $DRY_RUN -eq 0 && $(id -u) -ne 0 ]]; then
    echo "install-hub.sh: run it as root (sudo), or with --dry-run / --root DIR" >&2
    exit 1
fi

# say, run (--dry-run) and system (--root): shared by the install scripts
# shellcheck source=packaging/steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/../steps.sh"

if [[ $WITH_APT -eq 1 ]]; then
    say "Installing Debian packages"
    system apt-get update -qq
    system env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"
fi

say "Creating the '$APP_USER' user"
if [[ -n "$ROOT" ]] || ! id "$APP_USER" >/dev/null 2>&1; then
    system useradd --system --user-group --no-create-home --home-dir "$APP_DIR" \
        --shell /usr/sbin/nologin --comment "Accueil federation hub" "$APP_USER"
fi

say "Installing the hub from $FROM into $APP_DIR/venv"
run install -d -m 0755 "$ROOT$APP_DIR" "$ROOT$APP_DIR/packaging" "$ROOT$UNIT_DIR"
run install -d -m 0750 "$ROOT$CONF_DIR"
# wal: the WAL archive (archive-wal.sh), once point-in-time recovery is turned on
run install -d -m 0700 "$ROOT/var/backups/accueil-hub" "$ROOT/var/backups/accueil-hub/wal"
system chown postgres:postgres /var/backups/accueil-hub /var/backups/accueil-hub/wal
[[ -x "$ROOT$APP_DIR/venv/bin/python" ]] || run python3 -m venv "$ROOT$APP_DIR/venv"
spec=$FROM
if [[ -d "$FROM" || "$FROM" == *.whl ]]; then
    spec="${FROM}[hub]"
fi
run "$ROOT$APP_DIR/venv/bin/pip" install --quiet --disable-pip-version-check "${PIP_ARGS[@]}" "$spec"
if [[ "$FROM" == *.whl ]]; then
    # pip keeps an installed wheel of the same version: replace it anyway
    run "$ROOT$APP_DIR/venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall \
        --no-deps "${PIP_ARGS[@]}" "$FROM"
fi
run install -m 0755 "$HERE/backup.sh" "$HERE/restore.sh" "$HERE/setup-postgres.sh" "$HERE/archive-wal.sh" \
    "$HERE/base-backup.sh" "$HERE/restore-pitr.sh" "$ROOT$APP_DIR/packaging/"
run install -m 0644 "$HERE/postgres-setup.sql" "$HERE/Caddyfile" "$HERE/nginx-accueil-hub.conf" "$ROOT$APP_DIR/packaging/"
if [[ -f "$SOURCE_TREE/docs/deploy-hub.md" ]]; then
    run install -d -m 0755 "$ROOT$APP_DIR/docs"
    run install -m 0644 "$SOURCE_TREE/docs/deploy-hub.md" "$ROOT$APP_DIR/docs/"
fi
if [[ ! -e "$ROOT$CONF_DIR/hub.env" ]]; then
    run install -m 0640 "$HERE/hub.env.example" "$ROOT$CONF_DIR/hub.env"
fi
system chgrp -R "$APP_USER" "$CONF_DIR"

say "Installing the systemd units"
for unit in "${UNITS[@]}"; do
    run install -m 0644 "$HERE/$unit" "$ROOT$UNIT_DIR/$unit"
done
system systemctl daemon-reload
instances=()
for ((i = 0; i < PROCESSES; i++)); do
    instances+=("accueil-hub@$((FIRST_PORT + i)).service")
done
system systemctl enable accueil-hub.target accueil-hub-backup.timer "${instances[@]}"
# one after the other, so the kiosks always find a process answering
for instance in "${instances[@]}"; do
    system systemctl restart "$instance"
done
system systemctl start accueil-hub-backup.timer
say "Hub processes on 127.0.0.1:$FIRST_PORT..$((FIRST_PORT + PROCESSES - 1)); put the reverse proxy in front (docs/deploy-hub.md)."
