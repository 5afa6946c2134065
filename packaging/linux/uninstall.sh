#!/usr/bin/env bash
# Remove the Accueil kiosk installed by install.sh.
#
#   sudo packaging/linux/uninstall.sh                 remove the program, keep the data
#   sudo packaging/linux/uninstall.sh --purge-data    also erase /var/lib/accueil
#                                                     (the database and its backups)
#                                                     and the `accueil` user
#   packaging/linux/uninstall.sh --dry-run            print what would be done
#   packaging/linux/uninstall.sh --root /tmp/stage    undo an install.sh --root
#
# Without --purge-data the members' data stays in /var/lib/accueil, so a
# reinstall finds it again. Sync first (kiosk sync) before purging data.
set -euo pipefail

APP_USER=accueil
APP_DIR=/opt/accueil
DATA_DIR=/var/lib/accueil
CONF_DIR=/etc/accueil
UNIT_DIR=/etc/systemd/system
UNITS=(accueil-kiosk.service accueil-sync.service accueil-sync.timer accueil-daily.service accueil-daily.timer)

ROOT=""
DRY_RUN=0
PURGE_DATA=0

parse_args() {
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --root) ROOT=$(realpath -m "${2:?--root needs a folder}"); shift 2 ;;
            --dry-run) DRY_RUN=1; shift ;;
            --purge-data) PURGE_DATA=1; shift ;;
            -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
            *) echo "uninstall.sh: unknown option: $1 (see --help)" >&2; exit 2 ;;
        esac
    done
}

# say, run (--dry-run) and system (--root): shared by the install scripts
# shellcheck source=packaging/steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/../steps.sh"

stop_units() {
    say "Stopping and disabling the Accueil units"
    # units may already be gone: a half-done uninstall can be run again
    system systemctl disable --now "${UNITS[@]}" || true
}

remove_files() {
    say "Removing $APP_DIR, $CONF_DIR and the units"
    local unit
    for unit in "${UNITS[@]}"; do
        run rm -f "$ROOT$UNIT_DIR/$unit"
    done
    run rm -f "$ROOT/etc/pam.d/accueil-kiosk" "$ROOT/etc/default/grub.d/accueil.cfg"
    # install.sh --rotate: the kiosk unit's drop-in and the touchscreen's rule
    run rm -rf "$ROOT$UNIT_DIR/accueil-kiosk.service.d"
    run rm -f "$ROOT/etc/udev/rules.d/90-accueil-touch-rotation.rules"
    run rm -rf "$ROOT$APP_DIR" "$ROOT$CONF_DIR"
    local cmdline="$ROOT/boot/firmware/cmdline.txt"
    if [[ -f "$cmdline" ]] && grep -q ' consoleblank=0' "$cmdline"; then
        run sed -i 's/ consoleblank=0//' "$cmdline"
    fi
    system systemctl daemon-reload
}

purge_data() {
    if [[ $PURGE_DATA -eq 0 ]]; then
        say "Kept the data in $DATA_DIR (use --purge-data to erase it)"
        return 0
    fi
    say "Erasing $DATA_DIR and the '$APP_USER' user"
    run rm -rf "$ROOT$DATA_DIR"
    if [[ -n "$ROOT" ]] || id "$APP_USER" >/dev/null 2>&1; then
        system userdel "$APP_USER"
    fi
}

main() {
    parse_args "$@"
    if [[ -z "$ROOT" && $DRY_RUN -eq 0 && $(id -u) -ne 0 ]]; then
        echo "uninstall.sh: run it as root (sudo), or with --dry-run / --root DIR" >&2
        exit 1
    fi
    stop_units
    remove_files
    purge_data
    say "Done. To get a desktop back: sudo systemctl enable display-manager (or lightdm) and reboot."
}

main "$@"
